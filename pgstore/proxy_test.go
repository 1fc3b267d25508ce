package pgstore_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vmlife/vmlife/pgstore"
)

// proxy stands between a store and the test server, so that a test can
// make the server stop answering (freeze: nothing is forwarded either way,
// as when the server is stopped with SIGSTOP), drop a connection at a
// chosen message from the server (drop), go away and come back as a
// restarted server does (down: every connection cut, new ones refused;
// up), or answer new connections as a server starting up does (starting).
// It reads the server's side as protocol messages — a type byte, a length,
// the body — to know where it is in a conversation; it never changes a
// byte it forwards.
type proxy struct {
	t      *testing.T
	addr   string // where it listens, the same after down and up
	server func() (net.Conn, error)

	mu       sync.Mutex
	ln       net.Listener // nil while down
	cond     *sync.Cond
	frozen   bool
	starting bool // new connections are refused with 57P03, the server forwarded nothing
	// downAfterDrop, when set, makes the proxy go down (as down does) at
	// the moment dropAt drops a connection.
	downAfterDrop bool
	// dropAt, when set, is asked about every message the server sends
	// once it is set; at the first it says true for, the proxy closes the
	// connection on both sides instead of forwarding the message, and
	// forgets dropAt. dropped is then closed.
	dropAt  func(typ byte, body []byte) bool
	dropped chan struct{}
	conns   []net.Conn
}

// newProxy starts a proxy to the server VMLIFE_PG_DSN names.
func newProxy(t *testing.T, dsn string) *proxy {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	network, addr := "tcp", net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
	if strings.HasPrefix(cfg.Host, "/") {
		network, addr = "unix", filepath.Join(cfg.Host, fmt.Sprintf(".s.PGSQL.%d", cfg.Port))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, addr: ln.Addr().String(), server: func() (net.Conn, error) { return net.Dial(network, addr) }}
	p.cond = sync.NewCond(&p.mu)
	go p.accept(ln)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		starting := p.starting
		p.mu.Unlock()
		if starting {
			go startingUp(client)
			continue
		}
		server, err := p.server()
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // gone down while this one was connecting
			p.mu.Unlock()
			client.Close()
			server.Close()
			continue
		}
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.clientToServer(client, server)
		go p.serverToClient(server, client)
	}
}

// wait blocks while the proxy is frozen.
func (p *proxy) wait() {
	p.mu.Lock()
	for p.frozen {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

func (p *proxy) clientToServer(client, server net.Conn) {
	defer server.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			p.wait()
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) serverToClient(server, client net.Conn) {
	defer client.Close()
	r := bufio.NewReader(server)
	for {
		var head [5]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		body := make([]byte, int(binary.BigEndian.Uint32(head[1:]))-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		p.wait()
		p.mu.Lock()
		drop := p.dropAt != nil && p.dropAt(head[0], body)
		if drop {
			p.dropAt = nil
			close(p.dropped)
			if p.downAfterDrop {
				p.downAfterDrop = false
				p.goDown()
			}
		}
		p.mu.Unlock()
		if drop {
			client.Close()
			server.Close()
			return
		}
		if _, err := client.Write(append(head[:], body...)); err != nil {
			return
		}
	}
}

// freeze stops forwarding, both ways, until thaw.
func (p *proxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *proxy) thaw() {
	p.mu.Lock()
	p.frozen = false
	p.cond.Broadcast()
	p.mu.Unlock()
}

// drop arms the proxy to cut the connection at the first message from the
// server at which at says true, and returns a channel closed when it has.
func (p *proxy) drop(at func(typ byte, body []byte) bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropAt, p.dropped = at, make(chan struct{})
	return p.dropped
}

// dropThenDown is drop, and the proxy goes down (down) at the same moment,
// before the store can connect again.
func (p *proxy) dropThenDown(at func(typ byte, body []byte) bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropAt, p.dropped, p.downAfterDrop = at, make(chan struct{}), true
	return p.dropped
}

// down makes the server go away, as one stopped for a restart does: every
// connection is cut, and a new one is refused (nothing listens) until up.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.goDown()
}

// goDown is down, with p.mu held.
func (p *proxy) goDown() {
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// up brings the server back after down, listening where it did.
func (p *proxy) up() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("the proxy cannot listen at %s again: %v", p.addr, err)
	}
	p.ln = ln
	go p.accept(ln)
}

// startUp makes the proxy answer every new connection as a server that is
// starting up does (FATAL, SQLSTATE 57P03 cannot_connect_now), until
// started; the connections open are cut.
func (p *proxy) startUp() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starting = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) started() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starting = false
}

// startingUp answers client's startup message as a server starting up
// does, and hangs up: an SSL or GSS encryption request is declined ('N')
// first, and the startup message is answered with an ErrorResponse, FATAL
// 57P03.
func startingUp(client net.Conn) {
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		var head [8]byte
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(head[:4]))
		if n < 8 || n > 10000 {
			return
		}
		if _, err := io.CopyN(io.Discard, client, int64(n-8)); err != nil {
			return
		}
		if code := binary.BigEndian.Uint32(head[4:]); code == 80877103 || code == 80877104 {
			if _, err := client.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		}
		break
	}
	var body []byte
	for _, f := range [][2]string{{"S", "FATAL"}, {"V", "FATAL"}, {"C", "57P03"}, {"M", "the database system is starting up"}} {
		body = append(append(append(body, f[0]...), f[1]...), 0)
	}
	body = append(body, 0)
	msg := binary.BigEndian.AppendUint32([]byte{'E'}, uint32(len(body)+4))
	_, _ = client.Write(append(msg, body...))
}

func (p *proxy) close() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
	}
	p.mu.Unlock()
	p.thaw()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// afterCommit says when a write has been committed on the server and its
// answer not yet sent on: at the CommandComplete of a COMMIT, or at the
// ReadyForQuery that ends a statement committed by itself (transaction
// status idle, after a command completed). The server has committed; the
// client does not know.
func afterCommit() func(typ byte, body []byte) bool {
	completed := false
	return func(typ byte, body []byte) bool {
		switch typ {
		case 'C':
			if strings.TrimRight(string(body), "\x00") == "COMMIT" {
				return true
			}
			completed = true
		case 'Z':
			return completed && len(body) == 1 && body[0] == 'I'
		}
		return false
	}
}

// beforeCommit says when the first round trip of a transaction has been
// answered — the ReadyForQuery after BEGIN and its reads, in a transaction
// (status T) — so that dropping there loses a write before anything of it
// was committed.
func beforeCommit() func(typ byte, body []byte) bool {
	return func(typ byte, body []byte) bool {
		return typ == 'Z' && len(body) == 1 && body[0] == 'T'
	}
}

// proxied opens a store on the schema dsn names, through p, on a pool of
// one connection (so that the message p acts on is the call's).
func proxied(t *testing.T, p *proxy, dsn string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	addr := p.addr
	cfg.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	st, err := pgstore.New(context.Background(), pool, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
