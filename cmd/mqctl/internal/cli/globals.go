package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/raftmq/raftmq/client"
)

// Defaults of the global flags.
const (
	defaultServer  = "127.0.0.1:9876"
	defaultTimeout = 10 * time.Second
	// serverEnv overrides defaultServer.
	serverEnv = "RAFTMQ_SERVER"
	// addrMapEnv sets --addr-map.
	addrMapEnv = "RAFTMQ_ADDR_MAP"
)

// globals are the persistent flags every command sees.
type globals struct {
	servers string
	addrMap string
	timeout time.Duration
	json    bool
}

func (g *globals) register(root *cobra.Command) {
	def := defaultServer
	if env := strings.TrimSpace(os.Getenv(serverEnv)); env != "" {
		def = env
	}
	f := root.PersistentFlags()
	f.StringVarP(&g.servers, "server", "s", def, "comma-separated seed addresses host:port (env "+serverEnv+")")
	f.StringVar(&g.addrMap, "addr-map", os.Getenv(addrMapEnv),
		"advertised=reachable address pairs, comma-separated, for nodes that advertise names this host cannot reach, e.g. n1:9876=127.0.0.1:19876 (env "+addrMapEnv+")")
	f.DurationVar(&g.timeout, "timeout", defaultTimeout, "bound on the calls of one command (produce: of each send; consume: of joining)")
	f.BoolVar(&g.json, "json", false, "print JSON instead of tables")
}

// addrs returns the seed addresses, or a usage error when there are none
// or the timeout is not positive.
func (g *globals) addrs() ([]string, error) {
	if g.timeout <= 0 {
		return nil, usagef("--timeout %v must be positive", g.timeout)
	}
	out := splitList(g.servers)
	if len(out) == 0 {
		return nil, usagef("--server: no address given")
	}
	return out, nil
}

// dial returns a client of the seed addresses whose calls, retries
// included, are bounded by --timeout; opts come last.
func (g *globals) dial(ctx context.Context, opts ...client.Option) (*client.Client, error) {
	addrs, err := g.addrs()
	if err != nil {
		return nil, err
	}
	m, err := parseAddrMap(g.addrMap)
	if err != nil {
		return nil, err
	}
	opts = append([]client.Option{client.WithRequestTimeout(g.timeout), client.WithRetryTimeout(g.timeout), client.WithAddressMap(m)}, opts...)
	c, err := client.Dial(ctx, addrs, opts...)
	if err != nil {
		return nil, failure(err)
	}
	return c, nil
}

// call dials (with opts), runs fn with a context bounded by --timeout,
// and closes the client. An error from fn is a failure (exit status 1)
// unless it already carries a status.
func (g *globals) call(cmd *cobra.Command, fn func(ctx context.Context, c *client.Client) error, opts ...client.Option) error {
	c, err := g.dial(cmd.Context(), opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	return asFailure(fn(ctx, c))
}

// asFailure makes err a failure unless it is nil or already an exit or
// usage error.
func asFailure(err error) error {
	switch err.(type) {
	case nil, *exitError, *usageError:
		return err
	}
	return failure(err)
}

// topicHint adds a hint to an error saying that topic does not exist (a
// broker that does not auto-create topics refused a produce, or a consumer
// looked up a missing topic).
func topicHint(err error, topic string) error {
	var ce *client.Error
	if errors.As(err, &ce) && (ce.Method == "DescribeTopic" || ce.Method == "Produce") && errors.Is(err, client.ErrNotFound) {
		return fmt.Errorf("%w\n(create the topic first: mqctl topic create %s --queues N)", err, topic)
	}
	return err
}

// parseAddrMap parses "from=to,from=to".
func parseAddrMap(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range splitList(s) {
		from, to, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(from) == "" || strings.TrimSpace(to) == "" {
			return nil, usagef("--addr-map: %q is not advertised=reachable", pair)
		}
		m[strings.TrimSpace(from)] = strings.TrimSpace(to)
	}
	return m, nil
}
