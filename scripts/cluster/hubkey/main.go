// Command hubkey creates the nkey of Chronicle's own NATS user for
// scripts/cluster: it writes the seed to the file named by its argument
// (the credentials serve --nats-creds reads) and prints the public key,
// which the servers' configuration names as the hub account's user.
package main

import (
	"fmt"
	"os"

	"github.com/nats-io/nkeys"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hubkey SEED-FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "hubkey:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return err
	}
	seed, err := kp.Seed()
	if err != nil {
		return err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, seed, 0o600); err != nil {
		return err
	}
	fmt.Println(pub)
	return nil
}
