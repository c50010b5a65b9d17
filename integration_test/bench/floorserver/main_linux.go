package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4900", "listen address (host:port)")
	var cfg config
	flag.StringVar(&cfg.redisAddr, "redis", "", "Redis host:port; empty keeps rooms local to this process")
	flag.StringVar(&cfg.channel, "channel", "floorserver", "Redis channel for room messages (one per cluster)")
	flag.StringVar(&cfg.nodeID, "node-id", "", "this node's id on the channel (default: the listen address)")
	flag.Parse()
	if cfg.nodeID == "" {
		cfg.nodeID = *addr
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorserver:", err)
		os.Exit(1)
	}
	s, err := newServer(ln.(*net.TCPListener), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floorserver:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; s.close() }()
	runtime.LockOSThread()
	if err := s.serve(); err != nil {
		fmt.Fprintln(os.Stderr, "floorserver:", err)
		os.Exit(1)
	}
}
