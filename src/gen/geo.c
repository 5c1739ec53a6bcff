/* gen/geo.c — the geography: real Ecuadorian cities (one per province at least) and the stores.
 *
 * Coordinates are city centres in WGS84 decimal degrees (from the cities' Wikipedia
 * coordinates, e.g. Santo Domingo 00°15'15"S 79°10'19"W = -0.2542, -79.1719); provinces are
 * the cities' real provinces. Cross-checked on 2026-11-25 against an independent public list of
 * the 24 provincial capitals' coordinates (and Manta): each is within 0.5 km of it (Durán,
 * Quevedo and Milagro, not in it, are not independently checked). Populations (urban,
 * thousands, rounded) only weight where shoppers live. The table is data, so it is static const (no mutable state). */
#include "gen/gen.h"

static const gen_city cities[] = {
    {"Quito", "Pichincha", -0.1807, -78.4678, 1760},
    {"Guayaquil", "Guayas", -2.1709, -79.9224, 2350},
    {"Cuenca", "Azuay", -2.9001, -79.0059, 360},
    {"Santo Domingo", "Santo Domingo de los Ts\xc3\xa1" "chilas", -0.2542, -79.1719, 335},
    {"Ambato", "Tungurahua", -1.2491, -78.6168, 180},
    {"Manta", "Manab\xc3\xad", -0.9677, -80.7089, 220},
    {"Portoviejo", "Manab\xc3\xad", -1.0546, -80.4545, 210},
    {"Machala", "El Oro", -3.2581, -79.9554, 250},
    {"Loja", "Loja", -3.9931, -79.2042, 180},
    {"Riobamba", "Chimborazo", -1.6636, -78.6546, 160},
    {"Ibarra", "Imbabura", 0.3517, -78.1223, 150},
    {"Esmeraldas", "Esmeraldas", 0.9682, -79.6517, 160},
    {"Dur\xc3\xa1n", "Guayas", -2.1700, -79.8300, 260},
    {"Quevedo", "Los R\xc3\xados", -1.0286, -79.4635, 170},
    {"Milagro", "Guayas", -2.1344, -79.5872, 150},
    {"Latacunga", "Cotopaxi", -0.9352, -78.6155, 80},
    {"Babahoyo", "Los R\xc3\xados", -1.8022, -79.5344, 90},
    {"Tulc\xc3\xa1n", "Carchi", 0.8120, -77.7173, 65},
    {"Santa Elena", "Santa Elena", -2.2262, -80.8585, 55},
    {"Puyo", "Pastaza", -1.4924, -78.0024, 40},
    {"Tena", "Napo", -0.9938, -77.8129, 30},
    {"Nueva Loja", "Sucumb\xc3\xados", 0.0847, -76.8828, 55},
    {"Macas", "Morona Santiago", -2.3087, -78.1114, 25},
    {"Azogues", "Ca\xc3\xb1" "ar", -2.7397, -78.8486, 40},
    {"Guaranda", "Bol\xc3\xadvar", -1.5926, -79.0010, 30},
    {"Zamora", "Zamora Chinchipe", -4.0692, -78.9567, 15},
    {"Puerto Francisco de Orellana", "Orellana", -0.4629, -76.9872, 45},
    {"Puerto Baquerizo Moreno", "Gal\xc3\xa1pagos", -0.9017, -89.6103, 8},
};

/* One store per city at its centre, and a few more in the big cities' other districts
 * (Quito north and south, Guayaquil north and south, Cuenca east), all within ~10 km. */
static const gen_store stores[] = {
    {"ST001", 0, -0.1807, -78.4678},  {"ST002", 0, -0.1300, -78.4830},  {"ST003", 0, -0.2520, -78.5230},
    {"ST004", 1, -2.1709, -79.9224},  {"ST005", 1, -2.1540, -79.8920},  {"ST006", 1, -2.2560, -79.8930},
    {"ST007", 2, -2.9001, -79.0059},  {"ST008", 2, -2.8890, -78.9860},  {"ST009", 3, -0.2542, -79.1719},
    {"ST010", 4, -1.2491, -78.6168},  {"ST011", 5, -0.9677, -80.7089},  {"ST012", 6, -1.0546, -80.4545},
    {"ST013", 7, -3.2581, -79.9554},  {"ST014", 8, -3.9931, -79.2042},  {"ST015", 9, -1.6636, -78.6546},
    {"ST016", 10, 0.3517, -78.1223},  {"ST017", 11, 0.9682, -79.6517},  {"ST018", 12, -2.1700, -79.8300},
    {"ST019", 13, -1.0286, -79.4635}, {"ST020", 14, -2.1344, -79.5872}, {"ST021", 15, -0.9352, -78.6155},
    {"ST022", 16, -1.8022, -79.5344}, {"ST023", 17, 0.8120, -77.7173},  {"ST024", 18, -2.2262, -80.8585},
    {"ST025", 19, -1.4924, -78.0024}, {"ST026", 20, -0.9938, -77.8129}, {"ST027", 21, 0.0847, -76.8828},
    {"ST028", 22, -2.3087, -78.1114}, {"ST029", 23, -2.7397, -78.8486}, {"ST030", 24, -1.5926, -79.0010},
    {"ST031", 25, -4.0692, -78.9567}, {"ST032", 26, -0.4629, -76.9872}, {"ST033", 27, -0.9017, -89.6103},
};

size_t gen_city_count(void) { return sizeof cities / sizeof *cities; }
const gen_city *gen_city_get(size_t i) { return i < gen_city_count() ? &cities[i] : NULL; }
size_t gen_store_count(void) { return sizeof stores / sizeof *stores; }
const gen_store *gen_store_get(size_t i) { return i < gen_store_count() ? &stores[i] : NULL; }
