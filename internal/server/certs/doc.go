// Package certs lets setwarden manage its own serving certificate: it
// generates a CA and a serving certificate, keeps them in one Secret,
// injects the CA bundle into setwarden's webhook configurations and rotates
// both before they expire.
//
// A CA rotation never breaks a request because the bundle overlaps: the new
// CA joins the bundle first, the serving certificate switches to it only
// after the bundle had time to reach the API servers, and the old CA leaves
// the bundle only after every replica had time to pick up the new serving
// certificate. The decisions are a pure function of the Secret's content and
// the clock (Plan), so they are tested without a cluster; the Rotator runs
// them on the one elected replica, and every replica serves the certificate
// the Secret holds through a Store.
package certs
