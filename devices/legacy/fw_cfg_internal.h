/* fw_cfg internals shared by its source files (fw_cfg.c, fw_cfg_dma.c, fw_cfg_kernel.c). */
#ifndef EMBER_FW_CFG_INTERNAL_H
#define EMBER_FW_CFG_INTERNAL_H

#include <pthread.h>

#include "fw_cfg.h"

#define FW_CFG_DIR_ENTRY_SIZE 64

struct fw_cfg_item {
	uint16_t key;
	bool writable;                   /* DMA writes may change it in place */
	char name[FW_CFG_FILE_NAME_MAX]; /* files only; "" for plain keys */
	uint8_t *data;
	uint32_t len;
};

struct fw_cfg {
	pthread_mutex_t lock;            /* the port handler runs on any vCPU thread */
	const struct guest_mem *mem;
	struct fw_cfg_item *items;
	unsigned nitems, cap;
	uint16_t next_file_key;
	struct fw_cfg_state st;
};

/* With f->lock held. */
struct fw_cfg_item *fw_cfg_find(const struct fw_cfg *f, uint16_t key);
void fw_cfg_select(struct fw_cfg *f, uint16_t selector);
uint8_t fw_cfg_read_byte(struct fw_cfg *f);
/* Runs the FWCfgDmaAccess at guest address `addr` and writes its result back. */
void fw_cfg_dma_run(struct fw_cfg *f, uint64_t addr);

#endif
