// Command floorserver is the load test's yardstick: an HTTPS server with
// setwarden's TLS and HTTP settings (TLS 1.3, HTTP/1.1, keep-alive) that
// reads each request's body and answers a fixed, allowing AdmissionReview,
// doing no other work. The same load against it shows what the machine,
// the loopback and the load generator cost before any webhook logic: the
// floor under setwarden's figures.
//
//	floorserver ADDRESS CERT-DIR
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
)

var allowed = []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"0c9a0c3e-1111-4a0b-9c3c-5b8d7f0e6a01","allowed":true}}`)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: floorserver ADDRESS CERT-DIR")
		os.Exit(2)
	}
	dir := os.Args[2]
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorserver:", err)
		os.Exit(1)
	}
	srv := &http.Server{
		Addr:      os.Args[1],
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13},
		// An empty TLSNextProto turns HTTP/2 off, as setwarden does.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		// The test's readiness probe connects and hangs up: not an error.
		ErrorLog: log.New(io.Discard, "", 0),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(allowed)
		}),
	}
	fmt.Fprintln(os.Stderr, "floorserver:", srv.ListenAndServeTLS("", ""))
	os.Exit(1)
}
