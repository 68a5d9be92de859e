package pgxoutbox_test

func runChild(role string) int { return 2 }

const childEnv = "TRACKLANE_OUTBOX_CHILD"
