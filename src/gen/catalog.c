/* gen/catalog.c — the product catalog: about 350 products in 10 categories.
 *
 * Each category lists product lines that exist in Ecuadorian shops (a base name and a base
 * price in dollars) and a set of variants (storage, size, colour, pack) that scale the price.
 * Products are the cross product, numbered P0001.. in table order; prices end in .99/.90/.49
 * and are clamped into the category's range. Popularity rank within a category is a fixed
 * shuffle (hash of the name), so the most popular item is not simply the first one listed.
 * Everything is deterministic and independent of the run's seed: product ids mean the same
 * thing in every run. */
#include "gen/gen_priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *suffix;
    int pct;            /* price multiplier, percent */
} variant;

enum { VS_NONE, VS_STORAGE, VS_COMPUTER, VS_COLOR, VS_CLOTH, VS_WAIST, VS_SHOE, VS_PACK, VS_BOOK, VS_TABLET, VS_BALL, VS_COUNT };

static const variant variant_sets[VS_COUNT][5] = {
    [VS_NONE] = {{"", 100}},
    [VS_STORAGE] = {{"128GB", 100}, {"256GB", 118}},
    [VS_COMPUTER] = {{"8GB RAM 256GB SSD", 100}, {"16GB RAM 512GB SSD", 124}},
    [VS_COLOR] = {{"Black", 100}, {"White", 100}, {"Blue", 104}},
    [VS_CLOTH] = {{"Size S", 100}, {"Size M", 100}, {"Size L", 100}, {"Size XL", 106}},
    [VS_WAIST] = {{"W30 L32", 100}, {"W32 L32", 100}, {"W34 L32", 100}},
    [VS_SHOE] = {{"EU 38", 100}, {"EU 40", 100}, {"EU 42", 100}, {"EU 44", 100}},
    [VS_PACK] = {{"", 100}, {"Pack x6", 560}},
    [VS_BOOK] = {{"(Paperback)", 100}, {"(Hardcover)", 165}},
    [VS_TABLET] = {{"64GB", 100}, {"128GB", 122}},
    [VS_BALL] = {{"Size 5", 100}, {"Size 7", 108}},
};

typedef struct {
    const char *name;
    int dollars;
    int vs;
} product_line;

typedef struct {
    gen_category cat;
    const product_line *lines;
} category_def;

static const product_line electronics[] = {
    {"Samsung Galaxy A15", 179, VS_STORAGE}, {"Samsung Galaxy A35", 329, VS_STORAGE},
    {"Samsung Galaxy S24", 899, VS_STORAGE}, {"Apple iPhone 15", 999, VS_STORAGE},
    {"Apple iPhone 14", 799, VS_STORAGE}, {"Xiaomi Redmi Note 13", 229, VS_STORAGE},
    {"Xiaomi Redmi 13C", 139, VS_STORAGE}, {"Motorola Moto G84", 259, VS_STORAGE},
    {"Motorola Moto E13", 99, VS_STORAGE}, {"Honor X8b", 249, VS_STORAGE}, {"Tecno Spark 20", 129, VS_STORAGE},
    {"Samsung Crystal UHD 55\" 4K TV", 549, VS_NONE}, {"LG 43\" 4K Smart TV", 379, VS_NONE},
    {"TCL 50\" QLED Google TV", 429, VS_NONE}, {"Sony WH-1000XM5 Headphones", 399, VS_COLOR},
    {"JBL Flip 6 Speaker", 129, VS_COLOR}, {"JBL Tune 520BT Headphones", 49, VS_COLOR},
    {"Apple AirPods Pro 2", 249, VS_NONE}, {"Samsung Galaxy Watch6 40mm", 299, VS_COLOR}, {"Xiaomi Smart Band 8", 45, VS_COLOR},
    {"Anker PowerCore 20000mAh Power Bank", 49, VS_NONE},
    {NULL, 0, 0}};

static const product_line computers[] = {
    {"Lenovo IdeaPad Slim 3 15\"", 549, VS_COMPUTER}, {"HP Pavilion 15 Core i5", 729, VS_COMPUTER},
    {"Dell Inspiron 15 3520", 649, VS_COMPUTER}, {"Asus Vivobook 15 Ryzen 5", 599, VS_COMPUTER},
    {"Apple MacBook Air 13\" M2", 1099, VS_COMPUTER}, {"Acer Aspire 5 Core i7", 799, VS_COMPUTER},
    {"Lenovo ThinkPad E14", 899, VS_COMPUTER}, {"HP Victus 15 RTX 3050", 949, VS_COMPUTER},
    {"Apple iPad 10th Gen", 449, VS_TABLET}, {"Samsung Galaxy Tab A9", 199, VS_TABLET},
    {"Logitech MX Master 3S Mouse", 99, VS_COLOR}, {"Logitech K380 Bluetooth Keyboard", 39, VS_COLOR},
    {"Kingston NV2 1TB NVMe SSD", 69, VS_NONE}, {"Epson EcoTank L3250 Printer", 229, VS_NONE},
    {"Samsung 27\" Curved Monitor", 199, VS_NONE}, {"HP 24\" FHD Monitor", 149, VS_NONE}, {"TP-Link Archer AX23 Wi-Fi 6 Router", 69, VS_NONE},
    {"SanDisk Ultra 128GB USB Drive", 15, VS_NONE}, {"Seagate 2TB External Drive", 79, VS_COLOR},
    {NULL, 0, 0}};

static const product_line home_appliances[] = {
    {"Oster 10-Speed Blender", 59, VS_COLOR}, {"Indurama Refrigerator 300L", 689, VS_NONE},
    {"Mabe Gas Range 30\"", 529, VS_NONE}, {"LG Front Load Washer 20kg", 899, VS_NONE},
    {"Samsung Microwave 1.1 cu ft", 149, VS_COLOR}, {"Oster Rice Cooker 10-Cup", 39, VS_COLOR},
    {"Black+Decker Steam Iron", 29, VS_COLOR}, {"Hamilton Beach 12-Cup Coffee Maker", 45, VS_COLOR},
    {"Electrolux Vacuum Cleaner 1600W", 129, VS_COLOR}, {"Imaco Stand Fan 18\"", 35, VS_COLOR},
    {"Mabe Air Conditioner 12000 BTU", 499, VS_NONE}, {"Umco Pressure Cooker 6L", 55, VS_NONE},
    {"Philips Air Fryer 4.1L", 119, VS_COLOR}, {"Oster 2-Slice Toaster", 29, VS_COLOR},
    {"Indurama Gas Stove 4 Burners", 329, VS_NONE}, {"Ninja Professional Blender 1000W", 99, VS_NONE},
    {NULL, 0, 0}};

static const product_line fashion[] = {
    {"Levi's 511 Slim Jeans", 69, VS_WAIST}, {"Tommy Hilfiger Polo Shirt", 59, VS_CLOTH},
    {"Adidas Essentials Hoodie", 55, VS_CLOTH}, {"Zara Linen Shirt", 39, VS_CLOTH},
    {"H&M Cotton T-Shirt 3-Pack", 19, VS_CLOTH}, {"Columbia Rain Jacket", 89, VS_CLOTH},
    {"Nike Dri-FIT Running Shorts", 35, VS_CLOTH}, {"Montecristi Panama Hat", 120, VS_NONE},
    {"Calvin Klein Leather Belt", 45, VS_NONE}, {"Guess Logo Cap", 29, VS_COLOR}, {"Nike Sportswear Club Joggers", 45, VS_CLOTH},
    {"Ray-Ban Wayfarer Sunglasses", 159, VS_NONE},
    {NULL, 0, 0}};

static const product_line footwear[] = {
    {"Nike Air Zoom Pegasus 40", 129, VS_SHOE}, {"Adidas Ultraboost Light", 179, VS_SHOE},
    {"Converse Chuck Taylor All Star", 65, VS_SHOE}, {"Vans Old Skool", 70, VS_SHOE},
    {"Puma Suede Classic", 75, VS_SHOE}, {"Skechers Go Walk 6", 60, VS_SHOE},
    {"New Balance 574", 90, VS_SHOE}, {"Crocs Classic Clog", 50, VS_SHOE},
    {"Bata Leather Oxford", 55, VS_SHOE}, {"Reebok Classic Leather", 80, VS_SHOE}, {"Timberland 6-Inch Premium Boot", 189, VS_SHOE},
    {NULL, 0, 0}};

static const product_line sports[] = {
    {"Wilson Pro Staff Tennis Racket", 199, VS_NONE}, {"Adidas Al Rihla Match Ball", 39, VS_BALL},
    {"Yoga Mat 6mm", 25, VS_COLOR}, {"Adjustable Dumbbells 20kg", 89, VS_NONE},
    {"Garmin Forerunner 55", 199, VS_COLOR}, {"Oxford 29\" Mountain Bike", 459, VS_NONE},
    {"Coleman Sundome 4-Person Tent", 119, VS_NONE}, {"Hydro Flask 32oz Bottle", 45, VS_COLOR},
    {"Everlast Boxing Gloves 12oz", 49, VS_COLOR}, {"Ecuador National Team Jersey 2024", 89, VS_CLOTH},
    {"Speedo Vanquisher Swim Goggles", 19, VS_COLOR}, {"Under Armour Tech Training Shirt", 29, VS_CLOTH},
    {"Wilson NBA Basketball", 35, VS_BALL},
    {NULL, 0, 0}};

static const product_line beauty[] = {
    {"L'Or\xc3\xa9" "al Revitalift Serum 30ml", 24, VS_NONE}, {"Nivea Soft Cream 200ml", 7, VS_PACK},
    {"Maybelline Lash Sensational Mascara", 12, VS_NONE}, {"Dove Body Wash 500ml", 8, VS_PACK},
    {"Neutrogena Hydro Boost Gel 50ml", 22, VS_NONE}, {"Yanbal Ccori Eau de Parfum 50ml", 49, VS_NONE},
    {"Pantene Pro-V Shampoo 400ml", 7, VS_PACK}, {"Colgate Total Toothpaste 150g", 4, VS_PACK},
    {"Carolina Herrera Good Girl EDP 80ml", 135, VS_NONE}, {"Philips Hair Dryer 2100W", 45, VS_COLOR},
    {"Garnier Micellar Water 400ml", 9, VS_PACK}, {"Head & Shoulders Shampoo 375ml", 7, VS_PACK},
    {"Rexona Clinical Deodorant 48g", 6, VS_PACK}, {"Gillette Mach3 Razor", 12, VS_NONE},
    {NULL, 0, 0}};

static const product_line toys[] = {
    {"LEGO Classic Creative Box 790 pcs", 49, VS_NONE}, {"Hot Wheels 20-Car Gift Pack", 25, VS_NONE},
    {"Barbie Dreamhouse Adventures Doll", 29, VS_NONE}, {"Nerf Elite 2.0 Blaster", 29, VS_COLOR},
    {"Monopoly Classic Board Game", 25, VS_NONE}, {"Rubik's Cube 3x3", 12, VS_NONE},
    {"UNO Card Game", 8, VS_PACK}, {"Play-Doh 10-Pack", 12, VS_NONE},
    {"Fisher-Price Laugh & Learn Puppy", 25, VS_NONE}, {"LEGO Technic Race Car", 99, VS_NONE},
    {"Jenga Classic", 15, VS_NONE}, {"Scrabble Original", 22, VS_NONE},
    {"Marvel Spider-Man Titan Hero 30cm", 19, VS_NONE}, {"Paw Patrol Lookout Tower", 69, VS_NONE},
    {"Melissa & Doug Wooden Puzzle", 15, VS_NONE}, {"Crayola Super Tips 100 Markers", 19, VS_NONE},
    {"Beyblade Burst Pro Series Top", 14, VS_NONE}, {"Jurassic World Roaring T-Rex", 29, VS_NONE},
    {NULL, 0, 0}};

static const product_line groceries[] = {
    {"Pacari Chocolate 70% Cacao 50g", 4, VS_PACK}, {"Arroz Gustadina 2kg", 3, VS_PACK},
    {"Aceite La Favorita 1L", 3, VS_PACK}, {"Leche Vita Entera 1L", 1, VS_PACK},
    {"At\xc3\xban Real en Aceite 180g", 2, VS_PACK}, {"Nescaf\xc3\xa9 Tradici\xc3\xb3n 170g", 8, VS_PACK},
    {"Chifles Inalecsa 150g", 2, VS_PACK}, {"Quinua Camari 500g", 4, VS_PACK},
    {"Caf\xc3\xa9 Gal\xc3\xa1pagos Molido 250g", 7, VS_PACK}, {"Galletas Amor Vainilla 200g", 2, VS_PACK},
    {"Az\xc3\xba" "car Valdez 2kg", 2, VS_PACK}, {"Cerveza Pilsener 600ml", 1, VS_PACK},
    {"Yogurt Toni Frutilla 1L", 2, VS_PACK}, {"Panela Org\xc3\xa1nica 1kg", 2, VS_PACK},
    {"Sardinas Facundo 425g", 2, VS_PACK},
    {NULL, 0, 0}};

static const product_line books[] = {
    {"Cien a\xc3\xb1os de soledad - Gabriel Garc\xc3\xad" "a M\xc3\xa1rquez", 18, VS_BOOK},
    {"Huasipungo - Jorge Icaza", 12, VS_BOOK}, {"El principito - Antoine de Saint-Exup\xc3\xa9ry", 10, VS_BOOK},
    {"Sapiens - Yuval Noah Harari", 22, VS_BOOK}, {"H\xc3\xa1" "bitos at\xc3\xb3micos - James Clear", 20, VS_BOOK},
    {"Don Quijote de la Mancha - Miguel de Cervantes", 24, VS_BOOK},
    {"Harry Potter y la piedra filosofal - J.K. Rowling", 19, VS_BOOK},
    {"Cumand\xc3\xa1 - Juan Le\xc3\xb3n Mera", 11, VS_BOOK}, {"1984 - George Orwell", 14, VS_BOOK},
    {"Rayuela - Julio Cort\xc3\xa1zar", 16, VS_BOOK}, {"Ficciones - Jorge Luis Borges", 14, VS_BOOK},
    {"La casa de los esp\xc3\xadritus - Isabel Allende", 17, VS_BOOK},
    {"Padre rico, padre pobre - Robert Kiyosaki", 16, VS_BOOK}, {"El alquimista - Paulo Coelho", 13, VS_BOOK},
    {"A la costa - Luis A. Mart\xc3\xadnez", 12, VS_BOOK},
    {NULL, 0, 0}};

/* Ranges in cents; weights: the share of shoppers' interest (sums to 1). */
static const category_def categories[] = {
    {{"electronics", 4900, 150000, 0.14}, electronics},
    {{"computers", 2500, 220000, 0.08}, computers},
    {{"home_appliances", 2000, 100000, 0.10}, home_appliances},
    {{"fashion", 800, 20000, 0.16}, fashion},
    {{"footwear", 2500, 20000, 0.10}, footwear},
    {{"sports", 1000, 50000, 0.08}, sports},
    {{"beauty", 200, 15000, 0.10}, beauty},
    {{"toys", 500, 15000, 0.07}, toys},
    {{"groceries", 50, 4000, 0.12}, groceries},
    {{"books", 500, 5000, 0.05}, books},
};

size_t gen_category_count(void) { return sizeof categories / sizeof *categories; }
const gen_category *gen_category_get(size_t i) { return i < gen_category_count() ? &categories[i].cat : NULL; }

/* Turns a dollar amount into a shelf price: .99, .90, .49 endings picked by hash. */
static int64_t shelf_price(double dollars, uint64_t h, const gen_category *c) {
    static const int endings[] = {99, 99, 90, 49};
    int64_t whole = (int64_t)llround(dollars);
    int64_t cents = whole * 100 - 100 + endings[h % 4];
    if (cents < c->min_cents) cents = c->min_cents;
    if (cents > c->max_cents) cents = c->max_cents;
    return cents;
}

int gen_catalog_build(gen_product **out, size_t *n) {
    size_t total = 0;
    for (size_t c = 0; c < gen_category_count(); c++)
        for (const product_line *l = categories[c].lines; l->name; l++)
            for (int v = 0; v < 5 && variant_sets[l->vs][v].suffix; v++) total++;
    gen_product *ps = calloc(total, sizeof *ps);
    if (!ps) return -1;
    size_t k = 0;
    for (size_t c = 0; c < gen_category_count(); c++) {
        size_t first = k;
        for (const product_line *l = categories[c].lines; l->name; l++) {
            for (int v = 0; v < 5 && variant_sets[l->vs][v].suffix; v++) {
                const variant *va = &variant_sets[l->vs][v];
                gen_product *p = &ps[k];
                snprintf(p->id, sizeof p->id, "P%04zu", k + 1);
                snprintf(p->name, sizeof p->name, "%s%s%s", l->name, va->suffix[0] ? " " : "", va->suffix);
                p->id_len = (uint8_t)strlen(p->id);
                p->name_len = (uint8_t)strlen(p->name);
                p->category = (int)c;
                uint64_t h = hash64(p->name, strlen(p->name));
                p->price_cents = shelf_price(l->dollars * va->pct / 100.0, h, &categories[c].cat);
                p->rank = (int)(h >> 34); /* provisional: the shuffle key */
                k++;
            }
        }
        /* ranks 0..m-1 within the category by the hash key (a fixed shuffle) */
        size_t m = k - first;
        int keys[64];
        if (m > sizeof keys / sizeof *keys) {
            free(ps);
            return -1;
        }
        for (size_t i = 0; i < m; i++) keys[i] = ps[first + i].rank;
        for (size_t i = 0; i < m; i++) {
            int r = 0;
            for (size_t j = 0; j < m; j++)
                if (keys[j] < keys[i] || (keys[j] == keys[i] && j < i)) r++;
            ps[first + i].rank = r;
        }
    }
    *out = ps;
    *n = total;
    return 0;
}
