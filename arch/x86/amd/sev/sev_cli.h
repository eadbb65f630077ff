/* `ember sev ...`: launch-digest calculators and attestation-report verification. */
#ifndef EMBER_SEV_CLI_H
#define EMBER_SEV_CLI_H

/* argv[0] is "sev". Returns the process exit status. */
int sev_main(int argc, char **argv);

#endif
