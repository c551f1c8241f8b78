/*
 * Any bytes as a plan image (engine/plan_image.h): refused cleanly or read back into a
 * configuration, never a crash, a hang or a leak. Each input is tried as it is (the header
 * and checksum checks), then with a valid header and checksum written over it, so that
 * mutations reach the section table and the records behind the checksum; that one is read
 * both ways: copied, and borrowed (CR_IMAGE_BORROW, how processes adopt a published plan), and
 * the response groups compiled into it are read back (rules/rgs_image.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cr_model.h"
#include "cr_rgs_image.h"
#include "plan_image.h"

#define HEADER_MIN 48 /* magic, checksum, version, arch, total_len, generation, digest */

static void read_back(const uint8_t *img, size_t size, unsigned flags)
{
    cr_config *cfg = NULL;
    cr_diag d;
    cr_diag_init(&d);
    if (cr_image_read_ex(img, size, "fuzz.plan", flags, &cfg, &d) == CR_OK) {
        if (!cfg)
            abort();
        /* the response groups compiled into it: decoded and resolved, or refused */
        const void *bytes;
        size_t len;
        if (cr_config_attached(cfg, CR_RGS_IMAGE_NAME, &len) &&
            !cr_image_attachment(img, CR_RGS_IMAGE_NAME, &bytes, &len))
            abort(); /* cr_image_read accepted them */
        cr_rgs_config *rgs = NULL;
        cr_rgs_image_load_config(cfg, "fuzz.plan", &rgs, &d);
        cr_rgs_config_free(rgs);
        if (cr_config_compile(cfg, &d) == CR_OK) {
            void *again = NULL;
            size_t n = 0;
            if (cr_image_build(cfg, 7, &again, &n) == CR_OK &&
                cr_image_verify(again, n, NULL, NULL, 0) != CR_OK)
                abort(); /* an image we write must verify */
            free(again);
        }
    }
    cr_config_free(cfg);
    cr_diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the loader reads uint32_t records: give it the alignment a mapping has */
    uint8_t *img = malloc(size ? size : 1);
    if (!img)
        return 0;
    memcpy(img, data, size);
    char err[256];
    cr_image_verify(img, size, NULL, err, sizeof err);
    read_back(img, size, 0);
    if (size >= HEADER_MIN) {
        uint32_t version = CR_PLAN_VERSION, arch = ce_image_arch();
        uint64_t total = size;
        memcpy(img, CR_PLAN_MAGIC, CR_PLAN_MAGIC_LEN);
        memcpy(img + 16, &version, 4);
        memcpy(img + 20, &arch, 4);
        memcpy(img + 24, &total, 8);
        uint64_t sum = cr_image_checksum(img + 16, size - 16);
        memcpy(img + 8, &sum, 8);
        read_back(img, size, 0);
        read_back(img, size, CR_IMAGE_BORROW);
    }
    free(img);
    return 0;
}
