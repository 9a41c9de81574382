// exit_code exits with CODE, set at build time (-DCODE=N): builds that
// differ only in it are modules alike but for one constant, so one's
// compiled code in place of the other's runs as it.
#ifndef CODE
#define CODE 0
#endif

int main(void) { return CODE; }
