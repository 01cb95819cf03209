module example.com/svc

go 1.22

require (
	golang.org/x/net v0.19.0 // indirect
	"golang.org/x/text" v0.14.0
)

replace golang.org/x/net v0.19.0 => golang.org/x/net v0.20.0
replace golang.org/x/text => ../text
