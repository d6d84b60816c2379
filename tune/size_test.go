package tune

import (
	"os"
	"testing"
)

// TestBinarySize builds a minimal net/http server twice, stripped
// (-ldflags="-s -w"), with and without the blank import of snug, and fails
// if the import adds more than 2 MiB. The same comparison by hand:
//
//	cd tune/testdata/httpsize
//	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /tmp/plain .
//	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -tags snug -o /tmp/snug .
//	ls -l /tmp/plain /tmp/snug
func TestBinarySize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	flags := []string{"-trimpath", "-ldflags=-s -w"}
	plain := buildProgram(t, "testdata/httpsize", flags...)
	withSnug := buildProgram(t, "testdata/httpsize", append(flags, "-tags=snug")...)
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	a, b := size(plain), size(withSnug)
	t.Logf("stripped net/http server: %s without snug, %s with the blank import: +%s",
		formatBytes(a), formatBytes(b), formatBytes(b-a))
	if b-a > 2<<20 {
		t.Errorf("the blank import adds %s, more than 2 MiB", formatBytes(b-a))
	}
	if b <= a {
		t.Errorf("the binary with snug is not larger (%d vs %d bytes): was the import built in?", b, a)
	}
}
