package jstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/services/embedded"
)

// Cluster is a three-node JetStream cluster in the test process, as
// nats-server's own cluster tests run one: each node on loopback ports
// chosen at start, with a store directory of its own and routes to the
// others. Its accounts are those of a deployment (docs/deployment.md):
// the hub account, the only one with JetStream, whose one user is
// Chronicle's nkey, and the system account. Clients connect over TCP, as
// a Chronicle serving with --nats-url does.
type Cluster struct {
	tb    testing.TB
	Nodes []*Node
	// Hub is Chronicle's own user's key; SeedFile holds its seed, for
	// --nats-creds.
	Hub      nkeys.KeyPair
	SeedFile string
}

// Node is one server of a Cluster. Server is nil while it is stopped.
type Node struct {
	*server.Server
	Name string
	// Dir is the node's JetStream store directory; Config its
	// configuration file, kept so that Start brings the same node back.
	Dir, Config string
	// ClientPort is the node's client port, the same across restarts.
	ClientPort int
}

// clusterNodes is how many servers a Cluster has: three, the smallest
// that keeps a quorum with one node down.
const clusterNodes = 3

// clusterReadyWithin bounds the wait for a cluster (or a node restarted
// into it) to elect its JetStream meta leader and for every node to be
// current; elections take a few seconds on a loaded 2-core machine.
const clusterReadyWithin = 30 * time.Second

// stepDownWithin is how long StepDown waits for another leader before it
// asks again.
const stepDownWithin = 10 * time.Second

// RunCluster starts a three-node cluster on fresh temporary directories
// and waits until its JetStream layer has a leader and every node has
// caught up with it. Chronicle's streams are not created: the processes
// under test create them (at --replicas 3). The nodes are shut down when
// the test ends.
func RunCluster(tb testing.TB) *Cluster {
	tb.Helper()
	hub, pub := hubKey(tb)
	seed, err := hub.Seed()
	if err != nil {
		tb.Fatal(err)
	}
	root := tb.TempDir()
	c := &Cluster{tb: tb, Hub: hub, SeedFile: filepath.Join(root, "chronicle.nk")}
	if err := os.WriteFile(c.SeedFile, seed, 0o600); err != nil {
		tb.Fatal(err)
	}
	ports := freePorts(tb, 2*clusterNodes)
	var routes []string
	for i := range clusterNodes {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[clusterNodes+i]))
	}
	for i := range clusterNodes {
		n := &Node{Name: fmt.Sprintf("n%d", i+1), Dir: filepath.Join(root, fmt.Sprintf("n%d", i+1)), ClientPort: ports[i]}
		n.Config = filepath.Join(root, n.Name+".conf")
		conf := fmt.Sprintf(clusterTemplate, n.Name, n.ClientPort, n.Dir, ports[clusterNodes+i], strings.Join(routes, ", "),
			embedded.HubAccount, pub, embedded.SystemAccount, embedded.SystemAccount)
		if err := os.WriteFile(n.Config, []byte(conf), 0o600); err != nil {
			tb.Fatal(err)
		}
		c.Nodes = append(c.Nodes, n)
	}
	tb.Cleanup(c.shutdown)
	for i := range c.Nodes {
		c.startNode(i)
	}
	c.WaitReady()
	return c
}

// clusterTemplate is one node's configuration: name, client port, store
// directory, route port, the routes, then the accounts (see Cluster).
// Sync is left at nats-server's default: the tests are about what a
// cluster acknowledges while nodes come and go, not power loss.
const clusterTemplate = `
server_name: %s
listen: 127.0.0.1:%d
jetstream { store_dir: %q, max_memory_store: 64MB, max_file_store: 1GB }
cluster {
  name: chronicle-test
  listen: 127.0.0.1:%d
  routes: [%s]
}
accounts {
  %s { jetstream: enabled, users: [ { nkey: %s } ] }
  %s { }
}
system_account: %s
max_payload: 8MB
`

// freePorts finds n loopback ports free now, by listening on them at once.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func (c *Cluster) startNode(i int) {
	c.tb.Helper()
	n := c.Nodes[i]
	opts, err := server.ProcessConfigFile(n.Config)
	if err != nil {
		c.tb.Fatalf("node %s: %v", n.Name, err)
	}
	opts.NoSigs, opts.NoLog = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		c.tb.Fatalf("node %s: %v", n.Name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(clusterReadyWithin) {
		s.Shutdown()
		c.tb.Fatalf("node %s not ready within %v", n.Name, clusterReadyWithin)
	}
	n.Server = s
}

// URLs is the client URL of every node, comma-separated, as --nats-url
// takes them.
func (c *Cluster) URLs() string {
	var urls []string
	for _, n := range c.Nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.ClientPort))
	}
	return strings.Join(urls, ",")
}

// Connect opens a connection to the cluster as Chronicle's own user, with
// every node's URL and endless reconnection, closed when the test ends.
func (c *Cluster) Connect(opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	c.tb.Helper()
	auth, err := embedded.KeyAuth(c.Hub)
	if err != nil {
		c.tb.Fatal(err)
	}
	opts = append([]nats.Option{auth, nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(c.URLs(), opts...)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.tb.Fatal(err)
	}
	return nc, js
}

// Stop shuts node i down and waits until it has stopped.
func (c *Cluster) Stop(i int) {
	c.tb.Helper()
	if s := c.Nodes[i].Server; s != nil {
		s.Shutdown()
		s.WaitForShutdown()
		c.Nodes[i].Server = nil
	}
}

// Start brings node i back on its own configuration and store, and waits
// until the cluster is whole again.
func (c *Cluster) Start(i int) {
	c.tb.Helper()
	c.startNode(i)
	c.WaitReady()
}

// Wipe removes node i's store directory; the node must be stopped, and
// rejoins empty when started.
func (c *Cluster) Wipe(i int) {
	c.tb.Helper()
	if c.Nodes[i].Server != nil {
		c.tb.Fatalf("node %s is running: stop it before wiping its store", c.Nodes[i].Name)
	}
	if err := os.RemoveAll(c.Nodes[i].Dir); err != nil {
		c.tb.Fatal(err)
	}
}

// WaitReady waits until the running nodes agree on a JetStream meta leader,
// each is current with it, and the leader sees every running node online
// with its stats (without them it cannot place a stream's replicas there).
func (c *Cluster) WaitReady() {
	c.tb.Helper()
	Eventually(c.tb, clusterReadyWithin, "the cluster's JetStream meta leader, every node current and online", func() bool {
		leaders, running, online := 0, 0, 0
		for _, n := range c.Nodes {
			if n.Server == nil {
				continue
			}
			running++
			if !n.JetStreamIsCurrent() {
				return false
			}
			if n.JetStreamIsLeader() {
				leaders++
				online = len(n.JetStreamClusterPeers())
			}
		}
		return leaders == 1 && online == running
	})
}

// StreamLeader returns the index of the node leading stream in the hub
// account, waiting until one does.
func (c *Cluster) StreamLeader(stream string) int {
	c.tb.Helper()
	leader := -1
	Eventually(c.tb, clusterReadyWithin, "a leader for stream "+stream, func() bool {
		for i, n := range c.Nodes {
			if n.Server != nil && n.JetStreamIsStreamLeader(embedded.HubAccount, stream) {
				leader = i
				return true
			}
		}
		return false
	})
	return leader
}

// WaitStreamCurrent waits until every running node holds stream and is
// current with its leader: after a node rejoins, its replica has caught
// up.
func (c *Cluster) WaitStreamCurrent(stream string) {
	c.tb.Helper()
	Eventually(c.tb, clusterReadyWithin, "every replica of "+stream+" current", func() bool {
		for _, n := range c.Nodes {
			if n.Server != nil && !n.JetStreamIsStreamCurrent(embedded.HubAccount, stream) {
				return false
			}
		}
		return true
	})
}

// StepDown asks stream's leader to step down, as `nats stream cluster
// step-down` does, for the node named preferred when it is not "" (it
// must be current), and returns once another node leads it (at once when
// preferred leads it already). It returns the new leader's index.
func (c *Cluster) StepDown(nc *nats.Conn, stream, preferred string) int {
	c.tb.Helper()
	// The server may hand leadership to another node than the one
	// preferred (one it judges more current): ask again until the
	// preferred one leads, within the cluster's readiness bound.
	deadline := time.Now().Add(2 * clusterReadyWithin)
	for {
		before := c.StreamLeader(stream)
		if c.Nodes[before].Name == preferred {
			return before
		}
		var body []byte
		if preferred != "" {
			body = fmt.Appendf(nil, `{"placement":{"preferred":%q}}`, preferred)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, body)
		cancel()
		if err != nil {
			c.tb.Fatalf("step down %s: %v", stream, err)
		}
		var answer struct {
			Error *struct {
				Description string `json:"description"`
			} `json:"error"`
		}
		if err := json.Unmarshal(resp.Data, &answer); err != nil {
			c.tb.Fatalf("step down %s: %v %s", stream, err, resp.Data)
		}
		// A loaded machine may elect the old leader again, or none for a
		// while: look for another for a bounded time, then ask again.
		after := -1
		for until := time.Now().Add(stepDownWithin); answer.Error == nil && after < 0 && time.Now().Before(until); {
			for i, n := range c.Nodes {
				if i != before && n.Server != nil && n.JetStreamIsStreamLeader(embedded.HubAccount, stream) {
					after = i
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		if after >= 0 && (preferred == "" || c.Nodes[after].Name == preferred) {
			return after
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("step down %s: %s never became its leader (last answer %s)", stream, preferred, resp.Data)
		}
		time.Sleep(200 * time.Millisecond) // the preferred node may not be current yet
	}
}

func (c *Cluster) shutdown() {
	for _, n := range c.Nodes {
		if n.Server != nil {
			n.Shutdown()
			n.WaitForShutdown()
		}
	}
}
