/*  tiles.c: placeholder until the tree writer lands (lead, main). */
