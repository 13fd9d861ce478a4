// Package onlineproto is the online protocol between a payer (a gateway,
// or any client paying per request) and a worker, on the worker's attested
// TLS endpoint: the request headers, the chat request Cocoon reads, the
// answer's chunks, OpenAI's error objects, the worker's signed usage
// receipts and capacity reports, and the payment schemes' names and
// encodings. Both sides import it; neither imports the other.
// docs/GATEWAY.md describes the protocol.
package onlineproto
