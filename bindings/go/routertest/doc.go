// Package routertest checks that live pages mount in third-party routers (chi, gin)
// as the package documentation shows. It is a module of its own so that the live
// package's users never download those routers.
package routertest
