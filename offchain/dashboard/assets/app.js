// The dashboard page: polls /api/dashboard and draws what it says. Every
// value goes into the page as text (textContent), never as markup.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const colours = { ok: "#1f9d55", warn: "#d98e04", bad: "#d64545", "": "#3b6fd8" };
  const spare = ["#3b6fd8", "#8e5bd8", "#1fa5a5", "#c4577e", "#7a8799"];
  let pollMillis = 5000;
  let lastView = null;
  // shown keeps what each part of the page was last built from: a part is
  // rebuilt only when its data changed, so a poll does not undo a text
  // selection (an address being copied) or a screen reader's place.
  const shown = {};

  function changed(part, data) {
    const key = JSON.stringify(data);
    if (shown[part] === key) return false;
    shown[part] = key;
    return true;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function levelClass(level) {
    return level === "ok" || level === "warn" || level === "bad" ? level : "";
  }

  // seriesColour gives neutral series distinct colours, and levelled
  // ones the colour of their level.
  function seriesColour(series, i) {
    const lv = levelClass(series.level);
    return lv ? colours[lv] : spare[i % spare.length];
  }

  function renderHeader(s, view) {
    if (!changed("header", [s.title, s.subject, s.status, s.level, view.snapshot_time])) return;
    document.title = s.title + " · " + s.status;
    $("title").textContent = s.title;
    $("subject").textContent = s.subject;
    const st = $("status");
    st.textContent = s.status;
    st.className = "pill " + levelClass(s.level);
    const at = new Date(view.snapshot_time);
    $("updated").textContent = "updated " + at.toLocaleTimeString();
  }

  function renderWarnings(list) {
    if (!changed("warnings", list)) return;
    const ul = $("warnings");
    ul.replaceChildren();
    for (const w of list || []) {
      ul.appendChild(el("li", levelClass(w.level), w.text));
    }
    $("warnings-box").hidden = ul.children.length === 0;
  }

  function renderPanels(panels) {
    if (!changed("panels", panels)) return;
    const box = $("panels");
    box.replaceChildren();
    for (const p of panels || []) {
      const card = el("section", "card");
      card.appendChild(el("h2", "", p.title));
      const dl = el("dl");
      for (const f of p.fields || []) {
        dl.appendChild(el("dt", "", f.label));
        const dd = el("dd", levelClass(f.level));
        dd.dataset.key = f.key;
        dd.appendChild(el("span", "value", f.value));
        dl.appendChild(dd);
        if (f.note) dl.appendChild(el("div", "note", f.note));
      }
      card.appendChild(dl);
      box.appendChild(card);
    }
  }

  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m * p >= v) return m * p;
    }
    return 10 * p;
  }

  function fmtNumber(v) {
    if (Number.isInteger(v)) return v.toLocaleString();
    if (Math.abs(v) < 1) return String(Number(v.toPrecision(3)));
    return v.toLocaleString(undefined, { maximumFractionDigits: 2 });
  }

  function fmtInterval(sec) {
    if (sec >= 3600 && sec % 3600 === 0) return sec / 3600 + " h";
    if (sec >= 60 && sec % 60 === 0) return sec / 60 + " min";
    return sec + " s";
  }

  // legend lists each series with its total over the bars shown.
  function legend(box, series, totals, unit) {
    if (!changed("legend:" + (box.id || box.parentNode.parentNode.dataset.key), [series, totals, unit])) return;
    box.replaceChildren();
    series.forEach((ser, j) => {
      const item = el("span", "item");
      item.dataset.key = ser.key;
      const sw = el("span", "sw");
      sw.style.background = seriesColour(ser, j);
      item.appendChild(sw);
      item.appendChild(document.createTextNode(ser.label + ": " + fmtNumber(totals[j]) + (unit ? " " + unit : "")));
      box.appendChild(item);
    });
  }

  // drawBars draws stacked bars on a canvas: one bar per [start, end),
  // each at least one interval (slot, ms) wide, over a window of at
  // least minSlots intervals ending now or at the newest bar.
  function drawBars(canvas, series, bars, slot, minSlots) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);

    const stacks = bars.map((b) => b.values.reduce((a, v) => a + v, 0));
    // Counts get whole-number ticks: "0.25 jobs" reads as nonsense.
    const counts = bars.every((b) => b.values.every(Number.isInteger));
    const ymax = Math.max(niceMax(Math.max(0, ...stacks)), counts ? 4 : 0);
    g.font = "11px system-ui, sans-serif";
    // The axis is as wide as its widest label.
    let labelWidth = 0;
    for (let i = 0; i <= 4; i++) labelWidth = Math.max(labelWidth, g.measureText(fmtNumber((ymax / 4) * i)).width);
    const left = Math.ceil(labelWidth) + 12, right = 12, top = 10, bottom = 26;
    const pw = w - left - right, ph = h - top - bottom;
    const now = Date.parse(lastView ? lastView.time : new Date().toISOString());
    const newest = bars.length ? Math.max(bars[bars.length - 1].end_ms, bars[bars.length - 1].start_ms + slot) : now;
    const t1 = Math.max(now, newest);
    const t0 = Math.min(t1 - minSlots * slot, bars.length ? bars[0].start_ms : t1);
    const x = (t) => left + ((t - t0) / (t1 - t0)) * pw;
    const y = (v) => top + ph - (v / ymax) * ph;
    const long = t1 - t0 > 2 * 86400 * 1000;

    g.fillStyle = "#6a7385";
    g.strokeStyle = "#e2e6ee";
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let i = 0; i <= 4; i++) {
      const v = (ymax / 4) * i;
      const yy = Math.round(y(v)) + 0.5;
      g.beginPath();
      g.moveTo(left, yy);
      g.lineTo(left + pw, yy);
      g.stroke();
      g.fillText(fmtNumber(v), left - 6, yy);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    const ticks = Math.max(2, Math.min(4, Math.floor(pw / 110)));
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + ((t1 - t0) / ticks) * i;
      const d = new Date(t);
      const label = long ? d.toLocaleDateString([], { month: "short", day: "numeric" })
        : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      g.fillText(label, Math.min(Math.max(x(t), left + 18), left + pw - 18), top + ph + 7);
    }

    let drawn = 0;
    for (const b of bars) {
      const x0 = x(b.start_ms), x1 = x(Math.max(b.end_ms, b.start_ms + slot));
      const bw = Math.max(2, x1 - x0 - 1);
      let base = 0;
      b.values.forEach((v, j) => {
        if (v <= 0) return;
        g.fillStyle = seriesColour(series[j], j);
        const ya = y(base + v), yb = y(base);
        g.fillRect(x0, ya, bw, Math.max(1, yb - ya));
        base += v;
      });
      if (base > 0) drawn++;
    }
    canvas.dataset.bars = String(drawn);
    return drawn;
  }

  function totalsOf(series, bars) {
    return series.map((_, j) => bars.reduce((a, b) => a + b.values[j], 0));
  }

  function renderChart(s, chart) {
    $("chart-title").textContent = s.chart_title || "Activity";
    const series = chart.series || [];
    const bars = chart.bars || [];
    legend($("legend"), series, totalsOf(series, bars), "");
    drawBars($("chart"), series, bars, chart.interval_seconds * 1000, 60);
    $("chart-note").textContent = bars.length
      ? "Growth per " + fmtInterval(chart.interval_seconds) + "; the last bar is the interval in progress."
      : "No samples yet: the chart fills in as the daemon runs.";
  }

  // renderHistories draws the daemon's own charts, one card each.
  function renderHistories(list) {
    const box = $("histories");
    const layout = (list || []).map((hs) => [hs.key, hs.title]);
    if (changed("histories", layout)) buildHistories(box, list || []);
    (list || []).forEach((hs, i) => {
      const card = box.children[i];
      const series = hs.series || [], bars = hs.bars || [];
      legend(card.querySelector(".legend"), series, totalsOf(series, bars), hs.unit);
      // Drawn once every card is in place: a card added later narrows the
      // ones before it, and a canvas drawn at another width looks squeezed.
      drawBars(card.querySelector("canvas"), series, bars, hs.interval_seconds * 1000, hs.slots);
    });
  }

  function buildHistories(box, list) {
    box.replaceChildren();
    for (const hs of list) {
      delete shown["legend:" + hs.key]; // its legend box is new
      const card = el("section", "card chart-card");
      card.dataset.key = hs.key;
      const head = el("div", "chart-head");
      head.appendChild(el("h2", "", hs.title));
      const lg = el("div", "legend");
      head.appendChild(lg);
      card.appendChild(head);
      const canvas = el("canvas", "chart");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", hs.title);
      card.appendChild(canvas);
      box.appendChild(card);
    }
  }

  function render(view) {
    lastView = view;
    pollMillis = Math.max(100, view.poll_ms || pollMillis);
    const s = view.snapshot;
    const off = $("offline");
    if (view.error) {
      off.textContent = "The daemon could not read its state: " + view.error + (s ? " (showing the last good data)" : "");
      off.hidden = false;
    } else {
      off.hidden = true;
    }
    if (!s) return;
    renderHeader(s, view);
    renderWarnings(s.warnings);
    renderPanels(s.panels);
    renderChart(s, view.chart);
    renderHistories(s.histories);
    document.body.dataset.state = "ready";
  }

  async function poll() {
    try {
      const resp = await fetch("/api/dashboard", { cache: "no-store" });
      render(await resp.json());
    } catch (e) {
      const off = $("offline");
      off.textContent = "Cannot reach the daemon (" + e.message + "); retrying.";
      off.hidden = false;
      if (document.body.dataset.state === "loading") document.body.dataset.state = "offline";
    }
    setTimeout(poll, pollMillis);
  }

  window.addEventListener("resize", () => {
    if (lastView && lastView.snapshot) {
      renderChart(lastView.snapshot, lastView.chart);
      renderHistories(lastView.snapshot.histories);
    }
  });
  poll();
})();
