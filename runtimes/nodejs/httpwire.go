package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// HTTP/1.1 messages on the wire (RFC 9112), for the server and client in
// http.go: just what node's http module needs, without Go's net/http,
// which with crypto/tls, x509 and HTTP/2 made up a quarter of the
// runtime's code (and of the time wazero takes to load it at every start).

// Limits of a message head, as node's defaults (maxHeaderSize 16 KiB;
// a little more here for the request line).
const (
	maxHeadBytes = 64 << 10
	maxHeaders   = 200
)

var errHeadTooLarge = errors.New("request header too large")

// header is one header line, its name as sent.
type header struct{ name, value string }

// head is a parsed start line and header block.
type head struct {
	// first, second and third are the start line's three parts: method,
	// target and version of a request; version, status and reason of a
	// response.
	first, second, third string
	headers              []header
}

// get returns the first value of header name (case-insensitive).
func (h *head) get(name string) string {
	for _, kv := range h.headers {
		if strings.EqualFold(kv.name, name) {
			return kv.value
		}
	}
	return ""
}

// has reports whether header name lists token (comma-separated,
// case-insensitive), as Connection: close or Transfer-Encoding: chunked.
func (h *head) has(name, token string) bool {
	for _, kv := range h.headers {
		if !strings.EqualFold(kv.name, name) {
			continue
		}
		for _, t := range strings.Split(kv.value, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// readHead reads a start line and headers. Empty lines before a request
// are skipped (RFC 9112 2.2); obsolete line folding is joined.
func readHead(br *bufio.Reader) (*head, error) {
	total := 0
	line := func() (string, error) {
		var buf []byte
		for {
			s, err := br.ReadSlice('\n')
			total += len(s)
			if total > maxHeadBytes {
				return "", errHeadTooLarge
			}
			buf = append(buf, s...)
			switch {
			case err == bufio.ErrBufferFull:
				continue // a line longer than the buffer
			case err == io.EOF && total > 0:
				return "", io.ErrUnexpectedEOF
			case err != nil:
				return "", err
			}
			return strings.TrimRight(string(buf), "\r\n"), nil
		}
	}
	var start string
	for {
		s, err := line()
		if err != nil {
			return nil, err
		}
		if s != "" {
			start = s
			break
		}
	}
	parts := strings.SplitN(start, " ", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("malformed start line %q", start)
	}
	h := &head{first: parts[0], second: parts[1]}
	if len(parts) == 3 {
		h.third = parts[2]
	}
	for {
		s, err := line()
		if err != nil {
			return nil, err
		}
		if s == "" {
			return h, nil
		}
		if (s[0] == ' ' || s[0] == '\t') && len(h.headers) > 0 {
			last := &h.headers[len(h.headers)-1]
			last.value += " " + strings.TrimSpace(s)
			continue
		}
		name, value, ok := strings.Cut(s, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("malformed header line %q", s)
		}
		if len(h.headers) >= maxHeaders {
			return nil, errHeadTooLarge
		}
		h.headers = append(h.headers, header{name, strings.TrimSpace(value)})
	}
}

// parseVersion parses "HTTP/1.1".
func parseVersion(v string) (major, minor int, ok bool) {
	rest, found := strings.CutPrefix(v, "HTTP/")
	if !found || len(rest) != 3 || rest[1] != '.' || rest[0] < '0' || rest[0] > '9' || rest[2] < '0' || rest[2] > '9' {
		return 0, 0, false
	}
	return int(rest[0] - '0'), int(rest[2] - '0'), true
}

// bodyReader returns the reader of the body that follows h on br: chunked,
// Content-Length, until close (untilClose, for responses), or none.
func bodyReader(h *head, br *bufio.Reader, untilClose bool) (io.Reader, error) {
	if h.has("Transfer-Encoding", "chunked") {
		return &chunkedReader{br: br}, nil
	}
	if cl := h.get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad Content-Length %q", cl)
		}
		return &io.LimitedReader{R: br, N: n}, nil
	}
	if untilClose {
		return br, nil
	}
	return eofReader{}, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// chunkedReader decodes Transfer-Encoding: chunked (trailers are read and
// dropped).
type chunkedReader struct {
	br   *bufio.Reader
	left int64 // bytes left in the current chunk
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	if c.left == 0 {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		size, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("malformed chunk size %q", size)
		}
		if n == 0 {
			for { // trailers, then the empty line
				t, err := c.br.ReadString('\n')
				if err != nil {
					return 0, io.ErrUnexpectedEOF
				}
				if strings.TrimRight(t, "\r\n") == "" {
					break
				}
			}
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		if crlf, err2 := c.br.ReadString('\n'); err2 != nil || strings.TrimRight(crlf, "\r\n") != "" {
			return n, errors.New("malformed chunk end")
		}
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// writeChunk writes data as one chunk (nothing for empty data, which
// would end the body).
func writeChunk(bw *bufio.Writer, data []byte) {
	if len(data) == 0 {
		return
	}
	bw.WriteString(strconv.FormatInt(int64(len(data)), 16))
	bw.WriteString("\r\n")
	bw.Write(data)
	bw.WriteString("\r\n")
}

// statusText is the reason phrase of a status code (Go's and node's).
func statusText(code int) string {
	if s, ok := statusTexts[code]; ok {
		return s
	}
	return ""
}

var statusTexts = map[int]string{
	100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
	200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
	204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
	208: "Already Reported", 226: "IM Used",
	300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
	304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
	400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
	404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
	407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict", 410: "Gone",
	411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large",
	414: "Request URI Too Long", 415: "Unsupported Media Type",
	416: "Requested Range Not Satisfiable", 417: "Expectation Failed", 418: "I'm a teapot",
	421: "Misdirected Request", 422: "Unprocessable Entity", 423: "Locked",
	424: "Failed Dependency", 425: "Too Early", 426: "Upgrade Required",
	428: "Precondition Required", 429: "Too Many Requests",
	431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
	500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
	506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
	510: "Not Extended", 511: "Network Authentication Required",
}

// bodyAllowed reports whether a response with status may carry a body.
func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200 || status == 204 || status == 304)
}

// httpDate is the Date header's format (RFC 9110 5.6.7).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"
