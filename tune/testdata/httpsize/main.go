// Command httpsize is a minimal net/http server, built twice by
// TestBinarySize: as it is, and with -tags snug, which adds the blank
// import of snug (see snug.go). The difference in size of the two stripped
// binaries is what the import costs.
package main

import (
	"log"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}
