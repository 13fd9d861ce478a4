// The worker's dashboard: polls /api/dashboard and draws it. No external
// scripts, no inline code (the page's CSP forbids both).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const REFRESH_MS = 5000;

function $(id) { return document.getElementById(id); }
function setText(id, v) { $(id).textContent = v === undefined || v === null || v === "" ? "—" : String(v); }

function duration(sec) {
  if (sec < 120) return Math.round(sec) + " s";
  if (sec < 7200) return Math.round(sec / 60) + " min";
  if (sec < 172800) return Math.round(sec / 3600) + " h";
  return Math.round(sec / 86400) + " days";
}

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// barChart draws stacked bars: series is [{label, parts: [{cls, value, title}]}];
// the scale's top is the largest bar, at least floor.
function barChart(svg, series, emptyText, floor) {
  svg.replaceChildren();
  const W = 720, H = 180, left = 64, bottom = 22, top = 8;
  const max = Math.max(floor, ...series.map(s => s.parts.reduce((a, p) => a + p.value, 0)));
  const plotH = H - bottom - top;
  svg.appendChild(el("line", { x1: left, y1: H - bottom, x2: W, y2: H - bottom, stroke: "#2d333b" }));
  svg.appendChild(el("text", { x: left - 4, y: top + 8, "text-anchor": "end" }, formatNum(max)));
  svg.appendChild(el("text", { x: left - 4, y: H - bottom, "text-anchor": "end" }, "0"));
  if (series.length === 0) {
    svg.appendChild(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, emptyText));
    return;
  }
  const step = (W - left) / series.length, bw = Math.min(48, Math.max(2, step * 0.7));
  series.forEach((s, i) => {
    const x = left + i * step + (step - bw) / 2;
    let y = H - bottom;
    for (const p of s.parts) {
      if (p.value <= 0) continue;
      const h = (p.value / max) * plotH;
      y -= h;
      const r = el("rect", { x: x.toFixed(1), y: y.toFixed(1), width: bw.toFixed(1), height: h.toFixed(1), class: p.cls });
      r.appendChild(el("title", {}, p.title));
      svg.appendChild(r);
    }
    if (series.length <= 12 || i % Math.ceil(series.length / 12) === 0) {
      svg.appendChild(el("text", { x: (x + bw / 2).toFixed(1), y: H - 6, "text-anchor": "middle" }, s.label));
    }
  });
}

function formatNum(v) {
  if (Number.isInteger(v)) return String(v);
  return v < 0.001 ? v.toExponential(2) : v.toPrecision(3);
}

function render(d) {
  const st = $("status");
  st.textContent = d.status;
  st.className = "pill " + d.status;
  setText("updated", new Date(d.time).toLocaleTimeString());

  const warnings = $("warnings");
  warnings.replaceChildren(...d.warnings.map(w => { const li = document.createElement("li"); li.textContent = w; return li; }));

  setText("worker", d.worker);
  setText("owner", d.owner);
  setText("tee", d.tee);
  setText("evidence-age", duration(d.evidence_age_seconds) + " (created " + new Date(d.evidence_created).toISOString().slice(0, 10) + ")");
  setText("engine", d.engine + (d.engine_description ? " — " + d.engine_description : ""));
  setText("gpu", d.gpu || "none reported");

  const c = d.capacity;
  setText("capacity", c.in_flight + " of " + c.max_concurrent + " jobs in flight");
  setText("uploads", c.uploading + " of " + c.max_uploads + " uploads being read");
  $("capacity-bar").style.width = Math.min(100, (100 * c.in_flight) / Math.max(1, c.max_concurrent)) + "%";

  const pc = d.channels;
  setText("channels", pc ? pc.received_ton + " TON received, " + pc.pending_ton + " TON not yet on chain (" + pc.open + " open, " + pc.closed + " closed)" : "no channel payments");

  const ch = d.chain;
  if (ch) {
    setText("chain", "block " + ch.seqno + ", " + duration(Math.max(0, ch.lag_seconds)) + " behind");
    setText("contract-status", ch.registered ? ch.contract_status : "not registered");
    setText("stake", ch.stake_ton);
    setText("min-stake", ch.min_stake_ton ? "(minimum " + ch.min_stake_ton + ")" : "");
    setText("unbonding", ch.unbonding_ends ? "withdraw after " + new Date(ch.unbonding_ends).toISOString().replace(".000", "") : "not unbonding");
    setText("earnings", ch.earnings_ton);
    setText("total-earned", ch.total_earned_ton);
    setText("slashed", ch.slashed_ton);
    setText("fees", ch.fees_paid_ton);
    setText("chain-jobs", ch.registered ? ch.jobs_completed + " completed, " + ch.jobs_failed + " failed, " + ch.jobs_slashed + " slashed" : "");
    const days = (ch.days || []).slice().reverse();
    barChart($("earnings-chart"), days.map(day => ({
      label: day.day.slice(5),
      parts: [{ cls: "earned", value: Number(day.earned_nanoton) / 1e9, title: day.day + ": " + day.earned_ton + " TON, " + day.paid + " paid, " + day.failed + " failed, " + day.slashed + " slashed" }],
    })), "no paid jobs yet", 1e-9);
  } else {
    setText("chain", "unreachable: " + d.chain_error);
  }

  barChart($("jobs-chart"), d.hours.map(h => {
    const o = h.outcomes || {};
    const known = (o.completed || 0) + (o.failed || 0) + (o.expired || 0);
    const all = Object.values(o).reduce((a, v) => a + v, 0);
    const start = new Date(h.start);
    return {
      label: String(start.getHours()).padStart(2, "0") + "h",
      parts: [
        { cls: "completed", value: o.completed || 0, title: (o.completed || 0) + " completed" },
        { cls: "failed", value: o.failed || 0, title: (o.failed || 0) + " failed" },
        { cls: "expired", value: o.expired || 0, title: (o.expired || 0) + " expired" },
        { cls: "other", value: all - known, title: (all - known) + " other" },
      ],
    };
  }), "", 1);
  const totals = Object.entries(d.totals).map(([k, v]) => v + " " + k).join(", ");
  setText("totals", totals ? "kept on this worker: " + totals : "no finished jobs kept on this worker yet");
  document.body.dataset.loaded = "true";
}

async function refresh() {
  try {
    const r = await fetch("api/dashboard", { cache: "no-store" });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    render(body);
  } catch (e) {
    const st = $("status");
    st.textContent = "unreachable";
    st.className = "pill degraded";
    $("warnings").replaceChildren(Object.assign(document.createElement("li"), { textContent: "the dashboard cannot reach the worker: " + e.message }));
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
