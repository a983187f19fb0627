package suite

import "runtime"

const goarch = runtime.GOARCH
