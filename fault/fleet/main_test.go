package fleet_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-redis closes pooled connections asynchronously after Close.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"),
	)
}

// RedisAddrEnv names the environment variable holding a real redis-server's
// address for the tests that need one (.ci/run sets it).
const RedisAddrEnv = "FAULT_REDIS_ADDR"

// RedisServerEnv names the redis-server binary for tests that start their
// own server (to stop and restart it); default: redis-server from PATH.
const RedisServerEnv = "FAULT_REDIS_SERVER"

// inCI reports whether tests run under CI, where a missing server is a
// failure, not a skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// missing skips the test, or fails it under CI=true.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("%s (CI=true: tests needing Redis must run)", msg)
	}
	t.Skip(msg)
}

// t0 is the Redis time newMini starts at.
var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// newMini starts a miniredis (deterministic TIME: SetTime) and returns it
// with a client; both are closed when the test ends.
func newMini(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.RunT(t)
	m.SetTime(t0)
	return m, newClient(t, m.Addr())
}

func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// realRedis returns a client of the shared real redis-server named by
// FAULT_REDIS_ADDR, or skips (fails under CI). The database is not flushed
// (other packages may share the server): tests use names of their own
// (uniqueName).
func realRedis(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv(RedisAddrEnv)
	if addr == "" {
		missing(t, "%s is not set: start a server (redis-server --port 6390 --save '' --appendonly no --daemonize yes) and run with %s=127.0.0.1:6390", RedisAddrEnv, RedisAddrEnv)
	}
	c := newClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		missing(t, "redis at %s=%s unreachable: %v", RedisAddrEnv, addr, err)
	}
	return c
}

// ownServer is a redis-server process of the test's own, on a free loopback
// port, that the test may stop and start again.
type ownServer struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

// startOwnServer starts a private redis-server (persistence off), or skips
// (fails under CI) when no binary is found.
func startOwnServer(t testing.TB) *ownServer {
	t.Helper()
	bin := os.Getenv(RedisServerEnv)
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			missing(t, "no redis-server on PATH and %s unset: install redis-server (apt-get install redis-server) to run this test", RedisServerEnv)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &ownServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *ownServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *ownServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			_ = c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer: %v", s.addr(), err)
		}
		time.Sleep(10 * time.Millisecond) // real process start-up, not test timing
	}
}

func (s *ownServer) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
