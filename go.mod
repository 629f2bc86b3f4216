module github.com/chronicle-hub/chronicle

go 1.26.8
