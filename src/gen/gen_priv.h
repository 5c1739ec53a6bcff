/* gen_priv.h — internal to src/gen (not part of the module's contract, see gen.h). */
#ifndef ECOM_GEN_PRIV_H
#define ECOM_GEN_PRIV_H

#include "gen/gen.h"

/* Builds the fixed catalog into a new array (*out, caller frees with free()). 0 or -1 (OOM). */
int gen_catalog_build(gen_product **out, size_t *n);

#endif
