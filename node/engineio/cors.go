package engineio

import (
	"net/http"
	"net/url"
	"strings"
)

// corsPolicy is the resolved CORS configuration.
type corsPolicy struct {
	// enabled: Origins was non-empty, so CORS headers and preflights are
	// answered (Node's cors middleware is installed).
	enabled     bool
	any         bool
	origins     []string
	credentials bool
}

func newCORSPolicy(c CORS) corsPolicy {
	p := corsPolicy{enabled: len(c.Origins) > 0, credentials: c.Credentials}
	for _, o := range c.Origins {
		if o == "*" {
			p.any = true
			continue
		}
		p.origins = append(p.origins, strings.TrimSuffix(o, "/"))
	}
	return p
}

// allowed reports whether a request with this Origin may proceed:
// no Origin and same-origin requests always may; cross-origin ones only
// when "*" or the origin is listed.
func (p *corsPolicy) allowed(r *http.Request, origin string) bool {
	if origin == "" || p.any || p.listed(origin) {
		return true
	}
	return sameOrigin(r, origin)
}

// sameOrigin reports whether origin's host:port is the request's Host.
func sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// setHeaders adds the CORS response headers for an allowed origin: an
// origin allowed only by "*" gets "*", the others are echoed. Echoing
// every origin with Allow-Credentials would let any site make credentialed
// requests and read the answers.
func (p *corsPolicy) setHeaders(h http.Header, origin string) {
	if !p.enabled || origin == "" {
		return
	}
	if p.any && !p.listed(origin) {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// listed reports whether origin is one of the configured origins.
func (p *corsPolicy) listed(origin string) bool {
	for _, o := range p.origins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// writePreflight answers an OPTIONS preflight for an allowed origin.
func (p *corsPolicy) writePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET,POST")
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h.Set("Access-Control-Allow-Headers", rh)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

// validHeaderValue reports whether v holds only characters Node accepts in
// a header value (checkInvalidHeaderChar): TAB, 0x20-0x7e, 0x80-0xff.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\t' && (c < 0x20 || c == 0x7f) {
			return false
		}
	}
	return true
}
