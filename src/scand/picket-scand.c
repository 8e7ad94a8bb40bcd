/* picket-scand - the privilege-separated scan service.  Scanning arrives with
 * the scan service issue; until then this program only says so, so that the
 * install tree and the supervisor have their binary. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "picket-scand %s: no scan engine in this build yet\n", PICKET_VERSION);
	return 1;
}
