/* Byte-exact layouts of the ACPI tables Ember builds (ACPI 6.3 chapter 5.2). Packed structs whose
 * sizes are pinned by _Static_assert; the host is little-endian x86, like the tables. */
#ifndef EMBER_X86_ACPI_TABLES_H
#define EMBER_X86_ACPI_TABLES_H

#include <stdint.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ACPI tables are little-endian");

#define ACPI_PACKED __attribute__((packed))

/* 5.2.5.3 Root System Description Pointer, ACPI 2.0+ form. */
struct acpi_rsdp {
	char signature[8];   /* "RSD PTR " */
	uint8_t checksum;    /* over the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;    /* 2 = ACPI 2.0+, XSDT valid */
	uint32_t rsdt_address;
	uint32_t length;     /* of this whole structure */
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all `length` bytes */
	uint8_t reserved[3];
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP size");
#define ACPI_RSDP_V1_LENGTH 20

/* 5.2.6 System Description Table Header, common to every table but the RSDP. */
struct acpi_header {
	char signature[4];
	uint32_t length;     /* whole table, header included */
	uint8_t revision;
	uint8_t checksum;    /* whole table sums to zero */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header size");

/* 5.2.3.2 Generic Address Structure. */
struct acpi_gas {
	uint8_t space_id;    /* ACPI_GAS_* */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size; /* ACPI_GAS_ACCESS_* */
	uint64_t address;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS size");

#define ACPI_GAS_SYSTEM_MEMORY 0
#define ACPI_GAS_SYSTEM_IO     1
#define ACPI_GAS_ACCESS_BYTE   1

/* 5.2.9 Fixed ACPI Description Table, revision 6 (276 bytes). */
struct acpi_fadt {
	struct acpi_header header;       /* "FACP" */
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;               /* INT_MODEL in ACPI 1.0 */
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;         /* ACPI_FADT_BOOT_* */
	uint8_t reserved1;
	uint32_t flags;                  /* ACPI_FADT_F_* */
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT size");
_Static_assert(__builtin_offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "FADT IAPC_BOOT_ARCH");
_Static_assert(__builtin_offsetof(struct acpi_fadt, flags) == 112, "FADT Flags offset");
_Static_assert(__builtin_offsetof(struct acpi_fadt, x_dsdt) == 140, "FADT X_DSDT offset");
_Static_assert(__builtin_offsetof(struct acpi_fadt, sleep_control_reg) == 244, "FADT sleep offset");

/* 5.2.9.3 IA-PC Boot Architecture Flags. */
#define ACPI_FADT_BOOT_LEGACY_DEVICES  (1u << 0)
#define ACPI_FADT_BOOT_8042            (1u << 1)
#define ACPI_FADT_BOOT_NO_VGA          (1u << 2)
#define ACPI_FADT_BOOT_NO_MSI          (1u << 3)
#define ACPI_FADT_BOOT_NO_ASPM         (1u << 4)
#define ACPI_FADT_BOOT_NO_CMOS_RTC     (1u << 5)

/* 5.2.9 Table 5.35 Fixed ACPI Description Table Fixed Feature Flags (the ones Ember uses). */
#define ACPI_FADT_F_PWR_BUTTON         (1u << 4)
#define ACPI_FADT_F_SLP_BUTTON         (1u << 5)
#define ACPI_FADT_F_FIX_RTC            (1u << 6)
#define ACPI_FADT_F_HW_REDUCED_ACPI    (1u << 20)

/* 5.2.12 Multiple APIC Description Table. */
struct acpi_madt {
	struct acpi_header header;       /* "APIC" */
	uint32_t local_apic_address;
	uint32_t flags;                  /* ACPI_MADT_PCAT_COMPAT */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT size");
#define ACPI_MADT_PCAT_COMPAT 1u

/* Interrupt Controller Structure types (Table 5.45). */
#define ACPI_MADT_LOCAL_APIC        0
#define ACPI_MADT_IO_APIC           1
#define ACPI_MADT_INT_OVERRIDE      2
#define ACPI_MADT_LOCAL_APIC_NMI    4
#define ACPI_MADT_LOCAL_X2APIC      9
#define ACPI_MADT_LOCAL_X2APIC_NMI  10

#define ACPI_MADT_LAPIC_ENABLED     1u

/* MPS INTI flags (Table 5.50): polarity bits 1:0, trigger mode bits 3:2. */
#define ACPI_MPS_CONFORMS           0x0
#define ACPI_MPS_ACTIVE_HIGH        0x1
#define ACPI_MPS_EDGE               0x4

struct acpi_madt_local_apic {
	uint8_t type, length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_local_apic) == 8, "Local APIC entry size");

struct acpi_madt_io_apic {
	uint8_t type, length;
	uint8_t io_apic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_io_apic) == 12, "I/O APIC entry size");

struct acpi_madt_int_override {
	uint8_t type, length;
	uint8_t bus;                     /* 0 = ISA */
	uint8_t source;                  /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags;                  /* MPS INTI flags */
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_int_override) == 10, "Interrupt Source Override size");

struct acpi_madt_local_apic_nmi {
	uint8_t type, length;
	uint8_t processor_uid;           /* 0xff = all processors */
	uint16_t flags;                  /* MPS INTI flags */
	uint8_t lint;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_local_apic_nmi) == 6, "Local APIC NMI size");

struct acpi_madt_local_x2apic {
	uint8_t type, length;
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags;
	uint32_t processor_uid;
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_local_x2apic) == 16, "Local x2APIC entry size");

struct acpi_madt_local_x2apic_nmi {
	uint8_t type, length;
	uint16_t flags;                  /* MPS INTI flags */
	uint32_t processor_uid;          /* 0xffffffff = all processors */
	uint8_t lint;
	uint8_t reserved[3];
} ACPI_PACKED;
_Static_assert(sizeof(struct acpi_madt_local_x2apic_nmi) == 12, "Local x2APIC NMI size");

#endif
