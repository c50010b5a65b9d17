package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scenario != "fanout" || len(c.URLs) != 1 || c.Clients != 100 || c.Window != 100 || c.Ramp != 32 {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = parseConfig([]string{"-urls", " http://127.0.0.1:1, ws://127.0.0.1:2 ", "-pid", "10,20", "-scenario", "idle"}, io.Discard)
	if err != nil || len(c.URLs) != 2 || len(c.PIDs) != 2 || c.PIDs[1] != 20 {
		t.Fatalf("parsed %+v, %v", c, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "storm"}, "-scenario"},
		{[]string{"-urls", ""}, "no node URL"},
		{[]string{"-urls", "ftp://x"}, "scheme"},
		{[]string{"-urls", "http://"}, "no host"},
		{[]string{"-clients", "0"}, "-clients"},
		{[]string{"-pollers", "-1"}, "-pollers"},
		{[]string{"-window", "-1"}, "-window"},
		{[]string{"-rate", "0"}, "-rate"},
		{[]string{"-pid", "abc"}, "-pid"},
		{[]string{"-pid", "1,2"}, "2 pids for 1 urls"},
		{[]string{"-room", strings.Repeat("r", 129)}, "-room"},
		{[]string{"-payload", "2000000"}, "-payload"},
		{[]string{"-path", "socket.io"}, "-path"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-bogus"}, "bogus"},
	}
	for _, tt := range tests {
		_, err := parseConfig(tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseConfig(%q) = %v; want error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestNodeURLs(t *testing.T) {
	tests := []struct{ base, ws, metrics string }{
		{"http://127.0.0.1:3001", "ws://127.0.0.1:3001/socket.io/?EIO=4&transport=websocket", "http://127.0.0.1:3001/metrics"},
		{"https://[::1]:443/ignored", "wss://[::1]:443/socket.io/?EIO=4&transport=websocket", "https://[::1]:443/metrics"},
		{"ws://localhost:9", "ws://localhost:9/socket.io/?EIO=4&transport=websocket", "http://localhost:9/metrics"},
	}
	for _, tt := range tests {
		ws, m, err := nodeURLs(tt.base, "/socket.io/", "/metrics")
		if err != nil || ws != tt.ws || m != tt.metrics {
			t.Errorf("nodeURLs(%q) = %q, %q, %v", tt.base, ws, m, err)
		}
	}
	if _, m, _ := nodeURLs("http://h:1", "/socket.io/", ""); m != "" {
		t.Errorf("metrics disabled but got %q", m)
	}
}
