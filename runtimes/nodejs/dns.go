package main

import (
	"context"
	"errors"
	"net"

	"github.com/dop251/goja"
)

// bindDNS adds lookup(host, family, cb(err, [{address, family}...])) for
// lib/dns.js. With the getaddrinfo build tag (the default build) names are
// resolved by the host's sock_getaddrinfo, which reads the hosts and
// resolv.conf files of the namespace wasmrun runs in; without it by Go's
// resolver inside the guest.
func (r *runtime) bindDNS() {
	l := r.loop
	r.set("dnsLookup", func(c goja.FunctionCall) goja.Value {
		host := c.Argument(0).String()
		family := int(c.Argument(1).ToInteger())
		cb := c.Argument(2)
		l.ref()
		go func() {
			ips, err := lookupIP(context.Background(), host, family)
			l.post(func() {
				l.unref()
				if err == nil && len(ips) == 0 {
					err = &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
				}
				if err != nil {
					// Node's codes: a missing name is ENOTFOUND, a
					// failing nameserver EAI_AGAIN, anything else EAI_FAIL.
					code := "EAI_FAIL"
					var de *net.DNSError
					switch {
					case errors.As(err, &de) && de.IsNotFound:
						code = "ENOTFOUND"
					case errors.As(err, &de) && (de.IsTemporary || de.IsTimeout):
						code = "EAI_AGAIN"
					}
					e := r.nodeError(err, "getaddrinfo", "")
					e.Set("code", code)
					e.Set("hostname", host)
					e.Set("message", "getaddrinfo "+code+" "+host)
					l.callValue(cb, e)
					return
				}
				out := make([]any, 0, len(ips))
				for _, ip := range ips {
					fam := 4
					if ip.To4() == nil {
						fam = 6
					}
					if family != 0 && fam != family {
						continue
					}
					out = append(out, map[string]any{"address": ip.String(), "family": fam})
				}
				l.callValue(cb, goja.Null(), r.vm.ToValue(out))
			})
		}()
		return nil
	})
}

// lookupIP resolves host to its addresses (IP literals as they are).
func lookupIP(ctx context.Context, host string, family int) ([]net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, nil
	}
	return resolve(ctx, host, family)
}
