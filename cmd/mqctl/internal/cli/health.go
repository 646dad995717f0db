package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func newHealthCmd(g *globals) *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "health [--server ADDR]",
		Short: "Check one node with the standard gRPC health service",
		Long: `health calls grpc.health.v1.Health/Check on one address (the first of
--server) and prints the serving status. It is meant for container health
checks.

Exit status 0 when the node answers SERVING, 1 otherwise (NOT_SERVING,
unknown service, or the node could not be reached within --timeout).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs, err := g.addrs()
			if err != nil {
				return err
			}
			return runHealth(cmd, g, addrs[0], service)
		},
	}
	cmd.Flags().StringVar(&service, "service", "", `service to check ("" is the whole server, or raftmq.v1.Broker)`)
	return cmd
}

// healthJSON is the stable JSON shape of health.
type healthJSON struct {
	Addr    string `json:"addr"`
	Service string `json:"service"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
}

func runHealth(cmd *cobra.Command, g *globals, addr, service string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return failure(fmt.Errorf("health %s: %w", addr, err))
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	v := healthJSON{Addr: addr, Service: service}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		v.Status, v.Error = "UNREACHABLE", err.Error()
	} else {
		v.Status = resp.GetStatus().String()
	}
	if g.json {
		if werr := writeJSON(cmd.OutOrStdout(), v); werr != nil {
			return failure(werr)
		}
	} else if err == nil {
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", addr, v.Status)
	}
	switch {
	case err != nil:
		return failure(fmt.Errorf("health %s: %w", addr, err))
	case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
		return &exitError{code: ExitFailure}
	}
	return nil
}
