/*
 * bcryptprimitives.dll for Wine 8.0, which lacks it: Go 1.22+ programs for
 * Windows load it at start for ProcessPrng, their source of random bytes,
 * and stop ("bcryptprimitives.dll not found") without it. This one gives
 * ProcessPrng over RtlGenRandom (advapi32's SystemFunction036), which Wine
 * has. Built by the Windows tests with x86_64-w64-mingw32-gcc into their
 * private Wine prefix; it never reaches a real Windows.
 */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!RtlGenRandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
