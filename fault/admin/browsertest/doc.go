// Package browsertest drives the fault/admin page in a headless Chromium
// (through github.com/chromedp/chromedp). It is a module of its own, used
// only for tests, so that chromedp never becomes a requirement of
// fault/admin or of the programs that import it. It is not released.
//
// The tests need the chromium binary (Debian's chromium package; set
// CHROMIUM to use another path). Under CI=true a missing or broken browser
// fails the tests; elsewhere they are skipped with a message.
package browsertest
