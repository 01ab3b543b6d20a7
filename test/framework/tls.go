package framework

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/tools/clientcmd"
)

// FreePort returns a TCP port free on 127.0.0.1.
func FreePort() (int, error) { return freePort() }

// Dir returns the environment's scratch directory.
func (e *Env) Dir() string { return e.dir }

// BuildSetwarden builds the setwarden binary into dir and returns its path,
// for tests that run servers as separate processes (to signal them, or to
// run several at once).
func BuildSetwarden(dir string) (string, error) {
	out := filepath.Join(dir, "setwarden")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/setwarden")
	cmd.Dir = RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, b)
	}
	return out, nil
}

// ImpersonatingKubeconfig writes a kubeconfig that reaches the API server as
// the administrator impersonating user (with groups), so a server run with
// it gets exactly the RBAC granted to that user.
func (e *Env) ImpersonatingKubeconfig(name, user string, groups []string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		return "", err
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
		auth.ImpersonateGroups = groups
	}
	path := filepath.Join(e.dir, name)
	return path, clientcmd.WriteToFile(*cfg, path)
}

// Process is a command running in the background, its output in a log file.
type Process struct {
	// Log is the file holding the process's standard output and error.
	Log  string
	cmd  *exec.Cmd
	done chan error
}

// StartProcess starts bin with args, logging to log.
func StartProcess(bin, log string, args ...string) (*Process, error) {
	return startLogged(exec.Command(bin, args...), log)
}

// startLogged starts cmd with its output in the file log.
func startLogged(cmd *exec.Cmd, log string) (*Process, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &Process{Log: log, cmd: cmd, done: make(chan error, 1)}
	go func() {
		p.done <- cmd.Wait()
		f.Close()
	}()
	return p, nil
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Done receives the process's exit once it ends.
func (p *Process) Done() <-chan error { return p.done }

// Kill ends the process if it still runs.
func (p *Process) Kill() { _ = p.cmd.Process.Kill() }

// TCPProxy forwards each connection to one of its backends, round robin,
// skipping a backend that refuses the connection. It stands in for a
// Service with several endpoints: TLS passes through untouched.
type TCPProxy struct {
	// Addr is the listen address.
	Addr     string
	backends []string
	next     atomic.Uint64
	ln       net.Listener
	wg       sync.WaitGroup
	// Conns counts the connections forwarded to each backend.
	Conns []atomic.Int64
}

// StartTCPProxy listens on addr and forwards to backends.
func StartTCPProxy(addr string, backends ...string) (*TCPProxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &TCPProxy{Addr: addr, backends: backends, ln: ln, Conns: make([]atomic.Int64, len(backends))}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *TCPProxy) serve() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		go p.forward(conn)
	}
}

func (p *TCPProxy) forward(conn net.Conn) {
	defer conn.Close()
	start := p.next.Add(1)
	for i := range p.backends {
		idx := int(start+uint64(i)) % len(p.backends)
		backend, err := net.Dial("tcp", p.backends[idx])
		if err != nil {
			continue
		}
		p.Conns[idx].Add(1)
		defer backend.Close()
		go func() {
			_, _ = io.Copy(backend, conn)
			_ = backend.(*net.TCPConn).CloseWrite()
		}()
		_, _ = io.Copy(conn, backend)
		return
	}
}

// Close stops accepting connections.
func (p *TCPProxy) Close() error { return p.ln.Close() }
