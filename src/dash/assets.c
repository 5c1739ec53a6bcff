/* assets.c — the page's files, embedded into the binary at build time with the assembler's
 * .incbin, so `ecom dash` is one self-contained program that needs no install path and works
 * offline. Paths in .incbin are relative to the repo root, where make runs the compiler; the
 * Makefile lists the files as prerequisites of this object so editing one rebuilds it.
 *
 * From npm (scripts/setup.d/web.sh installs them from the lock file into src/dash/web/node_modules):
 * the chart library (uPlot), and the boundary data that make converts into build/gen/
 * (scripts/dash_map.py: Natural Earth's provinces of Ecuador as SVG paths, for map.js). Without
 * them the build stops with the command to run (Makefile): no binary embeds an empty library.
 */
#include <string.h>

#include "dash/dash.h"

/* Defines ecom_dash_<sym>_start/_end around the bytes of file, in .rodata, hidden. */
#define DASH_INCBIN(sym, file)                                                                     \
    __asm__(".pushsection .rodata\n"                                                               \
            ".balign 16\n"                                                                         \
            ".globl ecom_dash_" #sym "_start\n.hidden ecom_dash_" #sym "_start\n"                  \
            "ecom_dash_" #sym "_start:\n"                                                          \
            ".incbin \"" file "\"\n"                                                               \
            ".globl ecom_dash_" #sym "_end\n.hidden ecom_dash_" #sym "_end\n"                      \
            "ecom_dash_" #sym "_end:\n"                                                            \
            ".byte 0\n"                                                                            \
            ".popsection\n");                                                                      \
    extern const unsigned char ecom_dash_##sym##_start[], ecom_dash_##sym##_end[]

DASH_INCBIN(index_html, "src/dash/web/index.html");
DASH_INCBIN(app_js, "src/dash/web/app.js");
DASH_INCBIN(i18n_js, "src/dash/web/i18n.js");
DASH_INCBIN(fmt_js, "src/dash/web/fmt.js");
DASH_INCBIN(charts_js, "src/dash/web/charts.js");
DASH_INCBIN(tables_js, "src/dash/web/tables.js");
DASH_INCBIN(live_js, "src/dash/web/live.js");
DASH_INCBIN(style_css, "src/dash/web/style.css");
DASH_INCBIN(map_js, "src/dash/web/map.js");
DASH_INCBIN(shop_js, "src/dash/web/shop.js");
DASH_INCBIN(cards_css, "src/dash/web/cards.css");
DASH_INCBIN(uplot_js, "src/dash/web/node_modules/uplot/dist/uPlot.iife.min.js");
DASH_INCBIN(uplot_css, "src/dash/web/node_modules/uplot/dist/uPlot.min.css");
DASH_INCBIN(map_json, "build/gen/ec_provinces.json");

/* The fixed list of what the server serves besides the API: nothing else exists. */
static const struct {
    const char *path, *type;
    const unsigned char *start, *end;
} assets[] = {
    {"/", "text/html; charset=utf-8", ecom_dash_index_html_start, ecom_dash_index_html_end},
    {"/app.js", "text/javascript; charset=utf-8", ecom_dash_app_js_start, ecom_dash_app_js_end},
    {"/i18n.js", "text/javascript; charset=utf-8", ecom_dash_i18n_js_start, ecom_dash_i18n_js_end},
    {"/fmt.js", "text/javascript; charset=utf-8", ecom_dash_fmt_js_start, ecom_dash_fmt_js_end},
    {"/charts.js", "text/javascript; charset=utf-8", ecom_dash_charts_js_start, ecom_dash_charts_js_end},
    {"/tables.js", "text/javascript; charset=utf-8", ecom_dash_tables_js_start, ecom_dash_tables_js_end},
    {"/map.js", "text/javascript; charset=utf-8", ecom_dash_map_js_start, ecom_dash_map_js_end},
    {"/shop.js", "text/javascript; charset=utf-8", ecom_dash_shop_js_start, ecom_dash_shop_js_end},
    {"/cards.css", "text/css; charset=utf-8", ecom_dash_cards_css_start, ecom_dash_cards_css_end},
    {"/map/ec_provinces.json", "application/json", ecom_dash_map_json_start, ecom_dash_map_json_end},
    {"/live.js", "text/javascript; charset=utf-8", ecom_dash_live_js_start, ecom_dash_live_js_end},
    {"/style.css", "text/css; charset=utf-8", ecom_dash_style_css_start, ecom_dash_style_css_end},
    {"/vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8", ecom_dash_uplot_js_start,
     ecom_dash_uplot_js_end},
    {"/vendor/uPlot.min.css", "text/css; charset=utf-8", ecom_dash_uplot_css_start, ecom_dash_uplot_css_end},
};

const dash_asset *dash_asset_find(const char *path, dash_asset *out) {
    for (size_t i = 0; i < sizeof assets / sizeof assets[0]; i++) {
        if (strcmp(path, assets[i].path)) continue;
        out->path = assets[i].path;
        out->content_type = assets[i].type;
        out->data = assets[i].start;
        out->len = (size_t)(assets[i].end - assets[i].start);
        return out;
    }
    return NULL;
}
