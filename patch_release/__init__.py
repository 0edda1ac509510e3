"""What gives a server-side-apply patch's fields back on destroy, after checking that its target exists."""
