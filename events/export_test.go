package events

// UseV2 lets the external tests decode the old way (see strictUnmarshal).
var UseV2 = &useV2
