"""Deterministic generator of a small, synthetic, MultiNERD-shaped NER sample dataset.

The sentences are produced from hand-written templates (English and German) and
hand-written entity fillers.  They were written for snekner and are not copied
from MultiNERD or any other corpus; only the label inventory (and its ids) and
the file layout follow Babelscape/multinerd, so that the rest of the toolkit can
treat the sample exactly like the real dataset.  It serves as the offline default
for the demo and the tests.

Only the standard library is used: this module is imported by the CLI, which
has to start fast.

Template mini-language (one template per line, tokens separated by spaces,
punctuation is written as separate tokens):

* ``{PER}`` ... ``{VEHI}``  entity slot, filled with a random filler of that type
  (tagged B-X, I-X, ...).  A type used twice in a template gets two different
  fillers.
* ``{year}``, ``{num}``, ``{day}``, ``{month}``  untagged (O) vocabulary slot.
* ``(a|b|c)``  untagged choice; ``_`` inside an alternative separates tokens.
* ``[marker]``  untagged article/preposition that agrees with the filler of the
  *next* entity slot (English: "the" only where the name takes it, "a"/"an";
  German: gender-dependent article or contraction such as "im"/"in der"/"in").
  A capitalised marker (``[The]``, ``[D.nom]``) capitalises its output.

Fillers: English fillers starting with ``~`` take "the"; German fillers start
with their grammatical gender ``m:``, ``f:`` or ``n:`` (names without a prefix
take no article).
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import shutil
import tempfile

__all__ = [
    "LABELS",
    "LABEL2ID",
    "ENTITY_TYPES",
    "SAMPLE_LANGUAGES",
    "SPLITS",
    "DEFAULT_SIZES",
    "TRAIN_NOISE_RATE",
    "split_seed",
    "generate_sentences",
    "write_sample_dataset",
]

ENTITY_TYPES = (
    "PER", "ORG", "LOC", "ANIM", "BIO", "CEL", "DIS", "EVE",
    "FOOD", "INST", "MEDIA", "MYTH", "PLANT", "TIME", "VEHI",
)

# The 31 MultiNERD labels in id order (O=0, then B-/I- pairs in the order above).
LABELS: list[str] = ["O"] + [f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I")]
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}

SAMPLE_LANGUAGES = ("en", "de")
SPLITS = ("train", "val", "test")
DEFAULT_SIZES = {"train": 800, "val": 200, "test": 200}

# Fraction of *train* sentences given a BIO violation (O followed by I-X).
TRAIN_NOISE_RATE = 0.015

_README_MARKER = "snekner synthetic MultiNERD-shaped sample"

# Share of sentences whose template is chosen for a given entity type ("focus"
# type; other types co-occur in multi-slot templates).  None = no entity.
_FOCUS_WEIGHTS: dict[str | None, float] = {
    "PER": 9, "ORG": 8, "LOC": 6, "ANIM": 8, "DIS": 8,
    "BIO": 5.1, "CEL": 5.1, "EVE": 5.1, "FOOD": 5.1, "INST": 5.1,
    "MEDIA": 5.1, "MYTH": 5.1, "PLANT": 5.1, "TIME": 5.1, "VEHI": 5.1,
    None: 10,
}

# ---------------------------------------------------------------------------
# English
# ---------------------------------------------------------------------------

_EN_TEMPLATES = """
{PER} was born in [the] {LOC} in {year} .
In {year} , {PER} moved to [the] {LOC} to work for [the] {ORG} .
{PER} (joined|left) [the] {ORG} after {num} years in [the] {LOC} .
According to {PER} , the (new|revised|delayed|original) plan will be presented on {day} .
The (interview|conversation|meeting|phone_call) with {PER} lasted almost {num} hours .
{PER} (plays|teaches|studied) the {INST} and performs with [the] {ORG} .
Critics praised {PER} for the (novel|film|album|play) {MEDIA} , released in {year} .
{PER} was diagnosed with {DIS} in {month} {year} .
(Last_week|Last_month|On_Sunday|Yesterday) , {PER} and {PER} visited the old (harbour|market|cathedral) in [the] {LOC} .
{PER} photographed [a] {ANIM} (near|outside|north_of|south_of) [the] {LOC} .
Everyone agrees that {PER} makes the best {FOOD} in (town|the_village|the_whole_county|our_street) .
{PER} wrote a (book|thesis|long_essay|short_article) about the myths surrounding [the] {MYTH} .
As a child , {PER} (dreamed|always_dreamed) of (driving|owning|repairing) [a] {VEHI} .
{PER} won a (silver|gold|bronze) medal at the {EVE} in {year} .
{PER} studies how {BIO} survives in (acidic|salty|cold|dry|wet) soil .
The astronomer {PER} spent (years|decades|months|many_nights) observing [the] {CEL} .
{PER} is an expert on the (art|architecture|music|poetry|clothing) of the {TIME} .
{PER} planted [a] {PLANT} in the (garden|yard|field) behind the (house|school|church) .
{PER} founded a (charity|foundation|small_clinic) that fights {DIS} in rural areas .
{PER} accompanied the (choir|soloist|children) on the {INST} at the {month} concert .
[The] {ORG} announced on {day} that it will open a new (office|factory|branch|warehouse) in [the] {LOC} .
[The] {ORG} hired {num} new (employees|engineers|nurses|drivers|teachers) in {year} .
On {day} , a (spokesperson|spokeswoman|spokesman) for [the] {ORG} declined to comment on the (report|rumours|allegations|leaked_figures) .
[The] {ORG} is (sponsoring|organising|supporting) the {EVE} this year .
Researchers at [the] {ORG} have (sequenced|studied|mapped) the genome of {BIO} .
[The] {ORG} launched a vaccination campaign against {DIS} in [the] {LOC} .
In {year} [the] {ORG} replaced its (old|entire|ageing) fleet with the {VEHI} .
The (road|railway|ferry_service) from [the] {LOC} to [the] {LOC} is (closed|suspended) because of (snow|flooding|roadworks|a_strike) .
[The] {LOC} is known for its (markets|bridges|beaches|museums|vineyards|gardens|harbours) and its (mild|rainy|sunny|dry|windy) climate .
We spent {num} days (hiking|cycling|travelling) around [the] {LOC} in {month} .
The {ANIM} is (common|rare|widespread) in the (forests|hills|wetlands) around [the] {LOC} .
Visitors to [the] {LOC} (often|usually|always) try the local {FOOD} .
From [the] {LOC} you can see [the] {CEL} with the naked eye on (clear|cold|dark) nights .
The {EVE} took place in [the] {LOC} in {year} .
[A] {ANIM} was spotted near the (river|lake|road|school|station) on {day} (morning|evening|night) .
(In_winter_,|In_summer_,|In_spring_,|In_autumn_,|Most_of_the_year_,) the {ANIM} (feeds|hunts) mainly at night and (rests|sleeps|hides) during the day .
Volunteers (counted|monitored|surveyed) the {ANIM} population along the coast of [the] {LOC} in {year} .
Unlike the {ANIM} , the {ANIM} (rarely|seldom) (leaves|abandons) its territory .
The zoo in [the] {LOC} welcomed a young {ANIM} in {month} .
The {ANIM} is a symbol of [the] {MYTH} in many (old|ancient|local) stories .
{BIO} was found in (samples|water_samples|swabs) taken from the (river|well|kitchen|hospital|school) in {month} .
Under the microscope , the colonies of {BIO} looked (pale|unusual|healthy|dense) after {num} days .
Some strains of {BIO} are (linked|associated) with {DIS} , (researchers|doctors|scientists) say .
The lab (grows|cultivates) {BIO} on (agar|sugar|nutrient) plates for its experiments on {day} .
[The] {CEL} will be visible low on the (horizon|eastern_horizon|western_horizon) after sunset on {day} .
The telescope captured new images of [the] {CEL} and [the] {CEL} in {month} .
(Ancient|Early|Viking|Arab|Polynesian|Medieval) (sailors|navigators|traders) used [the] {CEL} to (navigate|find_their_way|steer) at night .
In the old tales , [the] {MYTH} lives (far_beyond|beyond|behind) [the] {CEL} .
{DIS} is spreading quickly in the (northern|southern|eastern|western) districts of [the] {LOC} .
(Doctors|Nurses|Experts) (say|believe|stress) that {DIS} can (often|usually|sometimes) be (prevented|treated|managed) with simple measures .
The number of {DIS} cases has (doubled|fallen|risen_sharply) since {year} , (officials|doctors|experts) say .
Her (brother|father|cousin|sister|mother) has (suffered_from|struggled_with|lived_with) {DIS} since childhood .
Tickets for the {EVE} sold out within {num} (hours|days) .
Thousands of (people|fans|tourists) travelled to [the] {LOC} for the {EVE} .
(Historians|Scholars|Many_writers) still (debate|argue_about|disagree_about) the (causes|consequences|legacy) of the {EVE} .
During the {EVE} , the city served free {FOOD} to (visitors|children|volunteers) .
On {day} we had {FOOD} for (dinner|lunch|supper) and a glass of (water|wine|juice|lemonade) .
(This|The_old|Grandma's) recipe for {FOOD} has been in our family for {num} generations .
The (cafe|bakery|restaurant|canteen) on the corner serves {FOOD} every {day} .
Our (daughter|son|neighbour|niece|nephew) has been learning the {INST} since the age of {num} .
The concert on {day} (opened|ended|began) with a (solo|duet|short_piece) for {INST} and strings .
He sold his old {INST} to buy [a] {VEHI} in {year} .
The (film|series|documentary) {MEDIA} was shot almost entirely in [the] {LOC} .
(Have_you|Has_your_sister|Has_your_brother|Have_your_parents) (already|ever) (read|seen|heard_about) {MEDIA} , the (book|film|series) everyone is talking about ?
The song {MEDIA} reached number {num} in the charts in {year} .
In the (novel|story|film) {MEDIA} , a young (girl|boy|farmer) befriends [a] {ANIM} .
According to (legend|the_old_stories|local_folklore) , [the] {MYTH} created the first (river|mountain|island|forest|lake) (long_ago|at_the_dawn_of_time|in_a_single_night) .
The temple was dedicated to [the] {MYTH} and later to [the] {MYTH} .
Children in the (village|valley|town) (still|sometimes|traditionally) leave (gifts|bread|candles|milk) for [the] {MYTH} on the longest night of the year .
The {PLANT} in our (garden|yard|courtyard) grew much (faster|slower|taller) this (year|spring|summer) .
[A] {PLANT} can survive (long_periods|several_weeks|many_months) without (rain|water|care) (in_summer|in_dry_years|in_this_climate) .
The (path|road|avenue) is lined with {PLANT} and {PLANT} on both sides .
(Bees|Butterflies|Beetles) love the (flowers|leaves|shade) of the {PLANT} behind the (barn|house|school) .
This (castle|church|bridge|tower|monastery) was (built|founded|completed) (during|in) the {TIME} .
Life in [the] {LOC} during the {TIME} was hard for most (farmers|families|workers) .
The museum has a (new|large|small) (exhibition|display|show) on the {TIME} , which opens on {day} .
Many stories about [the] {MYTH} were written down in the {TIME} .
The {VEHI} was (introduced|unveiled|first_sold) in {year} .
He travelled from [the] {LOC} to [the] {LOC} in [a] {VEHI} .
Collectors (pay|offer) (high|record|surprisingly_high) prices for a well-kept {VEHI} from the (fifties|sixties|seventies|eighties|nineties) .
The (museum|exhibition|garage) displays [a] {VEHI} from {year} .
The (meeting|interview|rehearsal|appointment) has been (moved|postponed) to {day} (afternoon|morning|evening) , (the_secretary|our_manager|the_coach) said .
Prices for (bread|milk|fuel|rent|coffee) rose again in {month} {year} .
(We|They|The_passengers) waited for almost {num} hours at the (station|airport|border|harbour) on {day} .
The (bridge|library|school|museum|hospital) was (closed|renovated|rebuilt) in {year} .
It (rained|snowed) (all|most_of_the) day on {day} , so the (football_match|market|concert|parade|fair) was (cancelled|postponed) .
(She|He) (finally|quickly|eventually) finished the (report|essay|application|presentation) late on {day} evening after {num} days of work .
Nobody expected the {year} (results|votes|figures) to be so close , (he|she|they) said .
The (children|pupils|volunteers) planted (trees|flowers|vegetables|bulbs) behind the (school|library|town_hall) in {month} .
After {num} weeks of (work|negotiations|repairs) , the (road|factory|station|bridge|museum) (reopened|finally_reopened|was_reopened) .
Please (send|bring|check) the (documents|forms|invoices|contracts) before {day} (morning|afternoon|evening) , (if_possible|if_you_can|at_the_latest) .
The old (clock|radio|lamp|heater) in the hallway stopped working in {year} .
Most of the (guests|workers|students|passengers) arrived (late|an_hour_late|very_late) on {day} because of the (storm|strike|traffic|snow) .
The (council|committee|board) (will_vote|is_expected_to_vote) on the (budget|proposal|plan|new_rules) next {day} (morning|afternoon|evening) .
(My|Our|Their) (neighbours|friends|cousins) are moving to a (smaller|bigger|quieter) flat in {month} .
"""

_EN_FILLERS: dict[str, list[str]] = {
    "PER": [
        "Maria Okafor", "Jonas Whitfield", "Priya Raman", "Tomasz Kowal", "Elena Varga",
        "Samuel Achebe", "Hannah Lindqvist", "Diego Marquez", "Aiko Tanabe", "Liam O'Connell",
        "Fatima Haddad", "Oskar Brandt", "Nadia Petrova", "Victor Almeida", "Chen Wei",
        "Amelia Hart", "Kwame Mensah", "Ingrid Solberg", "Anna Maria Reyes", "Jean-Luc Fontaine",
        "Whitfield", "Castellanos",
    ],
    "ORG": [
        "Northwind Railways", "Halcyon Bank", "Greywater University", "Bluefin Media Group",
        "Orion Robotics", "Ashford City Council", "Meridian Health Trust", "Silverline Airlines",
        "Redwood Analytics", "Kestrel Football Club", "Lantern Press", "Copperfield Insurance",
        "Atlas Shipping Company", "~United Nations", "~Red Cross", "~National Orchestra of Tessaly",
        "Pinecrest Labs", "Sunfield Cooperative", "Eastbridge College", "~World Health Organization",
    ],
    "LOC": [
        "Port Elmira", "Brindlewood", "Eastmoor", "New Halden", "Valencia", "Lisbon", "Kenya",
        "Norway", "Oslo", "Cape Marlow", "Greenhollow", "~Tamsin Valley", "Rivermouth",
        "Saint Clair", "Quebec", "Patagonia", "~Lake District", "~Black Forest", "~Mekong Delta",
        "Karsk",
    ],
    "ANIM": [
        "red fox", "otter", "barn owl", "humpback whale", "grey wolf", "hedgehog", "snow leopard",
        "African elephant", "honey bee", "sea turtle", "golden eagle", "badger", "emperor penguin",
        "bottlenose dolphin", "beaver", "fire salamander", "koala", "lynx", "border collie",
        "giant panda",
    ],
    "BIO": [
        "Escherichia coli", "Salmonella enterica", "Staphylococcus aureus", "Penicillium",
        "Plasmodium falciparum", "Bacillus subtilis", "Lactobacillus", "Candida albicans",
        "Aspergillus niger", "Saccharomyces cerevisiae", "Listeria monocytogenes", "Giardia",
        "Vibrio cholerae", "Clostridium", "Euglena", "Paramecium", "Trichoderma",
        "Streptococcus pyogenes", "Helicobacter pylori",
    ],
    "CEL": [
        "Mars", "Jupiter", "Saturn", "Venus", "~Andromeda Galaxy", "~Orion Nebula", "Sirius",
        "Betelgeuse", "Proxima Centauri", "Alpha Centauri", "~Crab Nebula", "Polaris", "Ceres",
        "~Milky Way", "Titan", "Ganymede", "Vega", "Neptune", "Kepler-22b",
        "~Large Magellanic Cloud",
    ],
    "DIS": [
        "measles", "influenza", "tuberculosis", "malaria", "asthma", "diabetes", "cholera",
        "chickenpox", "pneumonia", "Lyme disease", "Alzheimer's disease", "whooping cough",
        "scarlet fever", "hepatitis B", "multiple sclerosis", "yellow fever", "migraine",
        "bronchitis", "Parkinson's disease", "sleeping sickness", "dengue fever",
    ],
    "EVE": [
        "Summer Olympics", "Winter Olympics", "French Revolution", "Battle of Karsk",
        "Harbor Lights Festival", "World Cup", "Great Flood of Eastmoor", "Cold War",
        "Boston Marathon", "Eurovision Song Contest", "Lantern Fair", "Siege of Halden",
        "Great Exhibition", "Rivermouth Jazz Festival", "Northern Rebellion", "Tour de France",
        "Oslo Book Fair", "Copper Strike of 1912", "Brindlewood Regatta", "Spring Carnival",
    ],
    "FOOD": [
        "apple pie", "paella", "risotto", "hummus", "ramen", "borscht", "pad thai",
        "fish and chips", "cheesecake", "goulash", "falafel", "tiramisu", "shepherd's pie",
        "banana bread", "mushroom soup", "couscous", "ratatouille", "gazpacho", "apple strudel",
        "kimchi", "chocolate mousse", "lasagna",
    ],
    "INST": [
        "cello", "violin", "piano", "oboe", "trumpet", "harp", "accordion", "clarinet",
        "double bass", "French horn", "electric guitar", "flute", "saxophone", "sitar",
        "bassoon", "drum kit", "harpsichord", "banjo", "marimba", "tuba",
    ],
    "MEDIA": [
        "The Silent Harbor", "Letters from Karsk", "Midnight Orchard", "The Glass Cartographer",
        "A Winter in Lisbon", "Blue Static", "The Last Ferryman", "Echoes of Halden",
        "Paper Moons", "The Copper Crown", "Saltwater Hymns", "Beneath the Iron Sky",
        "Sunday Ghosts", "The Weaver's Daughter", "Small Hours", "The Kestrel Chronicles",
        "Window to the North", "Night Train to Oslo", "Harvest of Salt",
    ],
    "MYTH": [
        "Thor", "Zeus", "Odin", "Athena", "Anubis", "Loki", "Freya", "Poseidon", "Osiris",
        "Quetzalcoatl", "Medusa", "Hercules", "Apollo", "Baba Yaga", "Persephone", "Perun",
        "Amaterasu", "Fenrir", "~Minotaur", "Morrigan",
    ],
    "PLANT": [
        "oak", "sunflower", "lavender", "birch", "maple", "fern", "orchid", "willow",
        "dandelion", "bamboo", "cactus", "olive tree", "Scots pine", "giant sequoia",
        "water lily", "rhododendron", "foxglove", "tulip", "beech", "stinging nettle",
    ],
    "TIME": [
        "Middle Ages", "Bronze Age", "Renaissance", "Iron Age", "Victorian era", "Stone Age",
        "Jurassic period", "Enlightenment", "Edo period", "Baroque era", "Ice Age",
        "Belle Époque", "Cretaceous", "Age of Sail", "Industrial Age", "Interwar period",
        "Neolithic", "Tang dynasty", "Early Modern period", "Regency era",
    ],
    "VEHI": [
        "Boeing 747", "Airbus A320", "Ford Model T", "Volkswagen Beetle", "Concorde", "Vespa",
        "Land Rover Defender", "Trabant", "Tesla Model 3", "Cessna 172", "Toyota Corolla",
        "Fiat 500", "Citroën 2CV", "Mini Cooper", "Jeep Wrangler", "Saab 900", "Volvo 240",
        "Harley-Davidson", "Piper Cub", "Shinkansen",
    ],
}

_EN_VOCAB: dict[str, list[str]] = {
    "year": [str(y) for y in range(1890, 2024)],
    "num": ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
            "twelve"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "month": ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"],
}

# ---------------------------------------------------------------------------
# German
# ---------------------------------------------------------------------------

_DE_TEMPLATES = """
{PER} wurde {year} [in.dat] {LOC} geboren .
Im Jahr {year} zog {PER} [in.acc] {LOC} und (begann|fing_an) , [bei.dat] {ORG} zu arbeiten .
{PER} hat [d.acc] {ORG} nach {num} Jahren (verlassen|gewechselt) .
Laut {PER} soll der (neue|überarbeitete|ursprüngliche) Plan am {day} vorgestellt werden .
Das (Gespräch|Interview|Telefonat) mit {PER} dauerte fast {num} Stunden .
{PER} spielt [d.acc] {INST} und tritt (regelmäßig|oft|manchmal) [in.dat] {LOC} auf .
Kritiker lobten {PER} für den (Roman|Film|Erzählband) {MEDIA} , der {year} erschien .
Bei {PER} wurde im {month} {year} {DIS} festgestellt .
(Letzte_Woche|Letzten_Monat|Am_Sonntag|Gestern) besuchten {PER} und {PER} den alten (Hafen|Markt|Dom) [von.dat] {LOC} .
{PER} hat [i.acc] {ANIM} in der Nähe [von.dat] {LOC} fotografiert .
Niemand (kocht|macht) {FOOD} so gut wie {PER} aus (dem_Nachbarhaus|der_Nachbarschaft|unserem_Dorf|der_Kantine) .
{PER} schrieb ein (Buch|Essay|Sachbuch) über die Sagen um [d.acc] {MYTH} .
Als Kind träumte {PER} davon , (eines_Tages|irgendwann) [i.acc] {VEHI} zu besitzen .
{PER} gewann {year} [bei.dat] {EVE} eine (Silbermedaille|Goldmedaille|Bronzemedaille) .
{PER} untersucht , wie {BIO} in (saurem|salzigem|kaltem|trockenem|feuchtem) Boden überlebt .
Seit (Jahren|Jahrzehnten|Monaten) beobachtet {PER} [d.acc] {CEL} (mit_einem_Teleskop|vom_Dach_aus|jede_klare_Nacht) .
{PER} forscht seit (Jahren|langem|Jahrzehnten) über die (Kunst|Architektur|Musik|Mode) [in.dat] {TIME} .
{PER} hat hinter dem (Haus|Schulgebäude|Pfarrhaus) [i.acc] {PLANT} gepflanzt .
{PER} gründete eine (Stiftung|Initiative|kleine_Klinik) , die [d.acc] {DIS} in ländlichen Regionen bekämpft .
{PER} begleitete den (Chor|Solisten|Kinderchor) beim Konzert im {month} [an.dat] {INST} .
[D.nom] {ORG} kündigte am {day} an , ein neues (Büro|Werk|Lager) [in.dat] {LOC} zu eröffnen .
[D.nom] {ORG} hat im Jahr {year} {num} neue (Mitarbeiter|Ingenieure|Pflegekräfte|Fahrer) eingestellt .
Am {day} wollte sich (ein_Sprecher|eine_Sprecherin) [von.dat] {ORG} nicht zu den (Vorwürfen|Gerüchten|Berichten|Zahlen) äußern .
[D.nom] {ORG} (unterstützt|organisiert|sponsert) in diesem Jahr [d.acc] {EVE} .
Forschende [von.dat] {ORG} haben das Erbgut von {BIO} (entschlüsselt|untersucht|kartiert) .
[D.nom] {ORG} startet [in.dat] {LOC} eine Impfkampagne gegen {DIS} .
Im Jahr {year} hat [d.nom] {ORG} die (alte|gesamte) Flotte durch [i.acc] {VEHI} ersetzt .
Die (Straße|Bahnstrecke|Fährverbindung) zwischen [d.dat] {LOC} und [d.dat] {LOC} ist wegen (Schnee|Hochwasser|Bauarbeiten|eines_Streiks) gesperrt .
[D.nom] {LOC} ist bekannt für schöne (Märkte|Brücken|Strände|Museen|Weinberge|Gärten|Häfen) und (mildes|raues|sonniges|trockenes) Klima .
Im {month} sind wir {num} Tage lang [in.dat] {LOC} (gewandert|geradelt|unterwegs_gewesen) .
[D.nom] {ANIM} ist in den (Wäldern|Hügeln|Feuchtgebieten) rund um [d.acc] {LOC} (weit_verbreitet|selten|häufig) .
Wer [in.acc] {LOC} reist , sollte (unbedingt|auf_jeden_Fall) {FOOD} probieren .
[Von.dat] {LOC} aus kann man in (klaren|kalten|dunklen) Nächten [d.acc] {CEL} mit bloßem Auge sehen .
[D.nom] {EVE} fand {year} [in.dat] {LOC} statt .
Am {day} wurde [i.nom] {ANIM} in der Nähe (der_Schule|des_Bahnhofs|des_Flusses|des_Sees) gesehen .
(Im_Winter|Im_Sommer|Im_Frühling|Im_Herbst|Meistens) geht [d.nom] {ANIM} vor allem (nachts|in_der_Dämmerung) auf Nahrungssuche und (ruht|schläft) tagsüber .
Freiwillige beobachten [d.acc] {ANIM} seit {num} Jahren an der Küste [von.dat] {LOC} .
Anders als [d.nom] {ANIM} bleibt [d.nom] {ANIM} das ganze Jahr (im_selben|in_seinem) Revier .
Im Zoo [von.dat] {LOC} ist im {month} [i.nom] {ANIM} zur Welt gekommen .
In vielen (alten|uralten|regionalen) Geschichten ist [d.nom] {ANIM} ein Symbol für [d.acc] {MYTH} .
In den Proben aus dem (Fluss|Brunnen|Krankenhaus|Klärwerk) wurde im {month} {BIO} nachgewiesen .
Unter dem Mikroskop sahen die Kolonien von {BIO} nach {num} Tagen (ungewöhnlich|blass|gesund|dicht) aus .
Einige Stämme von {BIO} werden mit {DIS} in Verbindung gebracht , sagen (Forschende|Ärzte|Fachleute) .
Seit {num} Wochen (züchtet|kultiviert) das Labor {BIO} für seine Versuche auf (Agarplatten|Nährböden|Zuckerlösung) .
Am {day} ist [d.nom] {CEL} kurz nach Sonnenuntergang tief am (Horizont|Osthimmel|Westhimmel) zu sehen .
Das Teleskop lieferte im {month} neue Bilder [von.dat] {CEL} und [von.dat] {CEL} .
(Früher|Einst|Damals) orientierten sich (Seefahrer|Händler|Reisende|Fischer) nachts [an.dat] {CEL} , wenn der Himmel (klar|wolkenlos) war .
In alten Sagen wohnt [d.nom] {MYTH} (weit_hinter|hinter|gleich_hinter) [d.dat] {CEL} .
[D.nom] {DIS} breitet sich in den (nördlichen|südlichen|östlichen|westlichen) Stadtteilen [von.dat] {LOC} rasch aus .
(Ärzte|Fachleute|Pflegekräfte) (sagen|betonen) , dass man sich (oft|meist|manchmal) mit (einfachen|wirksamen) Mitteln vor {DIS} schützen kann .
Die Zahl der Fälle von {DIS} hat sich seit {year} (verdoppelt|halbiert) , sagen (Fachleute|Behörden|Ärzte) .
Mein (Bruder|Vater|Cousin|Onkel|Großvater) leidet seit (seiner_Kindheit|vielen_Jahren|seiner_Jugend|Jahrzehnten) an {DIS} .
Die Karten für [d.acc] {EVE} waren nach {num} (Stunden|Tagen) ausverkauft .
Tausende (Menschen|Fans|Touristen) reisten [zu.dat] {EVE} [in.acc] {LOC} .
Über die (Ursachen|Folgen|Bedeutung) [von.dat] {EVE} (streiten|diskutieren) (Historiker|Fachleute|Forschende) (bis_heute|noch_immer|seit_Jahren) .
[Bei.dat] {EVE} wurde an jedem Stand {FOOD} für (Besucher|Kinder|Helfer) verkauft .
Am {day} gab es zum (Abendessen|Mittagessen) {FOOD} und ein Glas (Wasser|Wein|Saft|Limonade) .
(Dieses|Das_alte|Omas) Rezept für {FOOD} ist seit {num} Generationen in unserer Familie .
Das (Café|Restaurant|Gasthaus) an der Ecke bietet jeden {day} {FOOD} an .
Unsere (Tochter|Nichte|Nachbarin) lernt {INST} , seit sie {num} Jahre alt ist .
Das Konzert am {day} (begann|endete) mit einem (Solo|Duett|kurzen_Stück) für {INST} und Streicher .
Er verkaufte im Jahr {year} [sein.acc] {INST} , um sich [i.acc] {VEHI} zu kaufen .
Der Film {MEDIA} wurde fast vollständig [in.dat] {LOC} gedreht .
(Hast_du|Habt_ihr|Haben_Sie) {MEDIA} eigentlich schon (gelesen|gesehen|gehört) , von dem (gerade|im_Moment) alle reden ?
Das Lied {MEDIA} erreichte im Jahr {year} Platz {num} der Charts .
Im (Roman|Film|Märchen) {MEDIA} freundet sich ein (junges_Mädchen|kleiner_Junge|alter_Bauer) mit [i.dat] {ANIM} an .
(Der_Sage_nach|Laut_der_Legende|Nach_altem_Glauben) erschuf [d.nom] {MYTH} (einst|vor_langer_Zeit|in_einer_einzigen_Nacht) den ersten (Fluss|Berg|See|Wald) .
Der Tempel war zuerst [d.dat] {MYTH} und später [d.dat] {MYTH} geweiht .
Die Kinder im (Dorf|Tal|Ort) legen in der längsten Nacht des Jahres (noch_immer|traditionell|manchmal) (Gaben|Brot|Kerzen|Milch) für [d.acc] {MYTH} vor die Tür .
[D.nom] {PLANT} in unserem (Garten|Hof|Innenhof) ist (dieses_Jahr|im_Frühling|im_Sommer) besonders (schnell|langsam|hoch) gewachsen .
[I.nom] {PLANT} kann (lange_Zeit|mehrere_Wochen|viele_Monate) ohne (Regen|Wasser|Pflege) überleben , sagt (die_Gärtnerin|der_Förster|unser_Nachbar) .
Der (Weg|Pfad|Radweg) ist auf beiden Seiten von {PLANT} und {PLANT} gesäumt .
Im (Frühling|Sommer|Juni) summen viele (Bienen|Hummeln|Insekten) um [d.acc] {PLANT} vor dem (Fenster|Haus|Stall) .
Diese (Burg|Kirche|Brücke|Mühle|Stadtmauer) wurde [in.dat] {TIME} (erbaut|gegründet|errichtet|fertiggestellt) .
Das Leben [in.dat] {LOC} war [in.dat] {TIME} für die meisten (Bauern|Familien|Arbeiter) hart .
Das Museum zeigt ab {day} eine (neue|große|kleine) Ausstellung über [d.acc] {TIME} .
Viele Geschichten über [d.acc] {MYTH} wurden erst [in.dat] {TIME} aufgeschrieben .
[D.nom] {VEHI} wurde im Jahr {year} (vorgestellt|eingeführt) .
Er reiste mit [i.dat] {VEHI} [von.dat] {LOC} [in.acc] {LOC} .
Für [i.acc] {VEHI} aus den (Fünfzigern|Sechzigern|Siebzigern|Achtzigern|Neunzigern) in gutem Zustand (zahlen|bieten) Sammler (hohe|sehr_hohe|erstaunlich_hohe) Preise .
Das (Museum|Verkehrsmuseum|Autohaus) zeigt [i.acc] {VEHI} aus dem Jahr {year} .
Wegen (Krankheit|des_Streiks|des_Wetters|eines_Termins) wurde die (Sitzung|Probe|Besprechung|Führung) auf den (kommenden|nächsten) {day} (verschoben|vorverlegt) .
Die Preise für (Brot|Milch|Benzin|Mieten|Kaffee) sind im {month} {year} erneut gestiegen .
(Wir_haben|Sie_haben|Die_Fahrgäste_haben) am {day} fast {num} Stunden am (Bahnhof|Flughafen|Grenzübergang|Hafen) gewartet .
Die (Brücke|Bibliothek|Schule|Turnhalle) wurde im Jahr {year} (renoviert|geschlossen|wiederaufgebaut) .
Es hat am {day} den ganzen Tag (geregnet|geschneit|gestürmt) , (deshalb|daher) wurde das (Spiel|Konzert|Fest|Turnier) (abgesagt|verschoben) .
Nach {num} Tagen Arbeit hat (sie|er) (den_Bericht|die_Präsentation|den_Antrag|die_Hausarbeit) am {day} spät am Abend fertiggestellt .
Niemand hatte erwartet , dass das (Ergebnis|Resultat) der (Wahl|Abstimmung|Umfrage) {year} so knapp ausfallen würde .
Die (Kinder|Schüler|Freiwilligen) haben im {month} hinter der (Schule|Bibliothek|Kirche) (Bäume|Blumen|Gemüse|Zwiebeln) gepflanzt .
Nach {num} Wochen (Arbeit|Verhandlungen|Reparaturen) wurde die (Straße|Fabrik|Halle|Brücke|Bibliothek) (wieder_geöffnet|endlich_wieder_geöffnet|wieder_freigegeben) .
Bitte (schicken|bringen|prüfen) Sie die (Unterlagen|Formulare|Rechnungen|Verträge) (,_wenn_möglich_,|,_falls_möglich_,|spätestens) bis {day} .
Die alte (Uhr|Lampe|Heizung) im Flur ist im Jahr {year} kaputtgegangen .
Die meisten (Gäste|Arbeiter|Studierenden|Fahrgäste) kamen am {day} wegen des (Sturms|Streiks|Verkehrs|Schnees) (zu_spät|viel_zu_spät|eine_Stunde_zu_spät) .
Wie (angekündigt|erwartet|geplant) , stimmt der (Gemeinderat|Ausschuss|Vorstand) nächsten {day} (am_Vormittag|am_Abend) über den (Haushalt|Vorschlag|Plan|Antrag) ab .
(Unsere|Meine|Ihre) (Nachbarn|Freunde|Cousins) ziehen im {month} in eine (kleinere|größere|ruhigere) (Wohnung|Altbauwohnung|Wohnung_am_Stadtrand) .
"""

_DE_FILLERS: dict[str, list[str]] = {
    "PER": [
        "Katharina Vogt", "Lukas Brenner", "Sophie Albrecht", "Mehmet Yıldız", "Jonas Hartmann",
        "Lena Kowalski", "Friedrich Wendel", "Marie-Luise Baum", "Tobias Kern", "Anja Reuter",
        "Emil Sauer", "Johanna Lindner", "Ole Petersen", "Clara Hofstetter", "Dimitri Wolkow",
        "Ayşe Demir", "Greta Winkler", "Hans Peter Maurer", "Niklas Brandstätter",
        "Franziska Oberle", "Dahlmann", "Kowalczyk",
    ],
    "ORG": [
        "f:Nordstern Bank", "m:FC Elmstadt", "m:SV Rotbach 09", "n:Klinikum Westend",
        "f:Universität Kellbach", "f:Bergmann Logistik GmbH", "f:Kranich Versicherung",
        "f:Sparkasse Mittelfeld", "m:Verlag Lindenhof", "f:Elbtal Brauerei",
        "n:Theater Hallerbach", "f:Solvia Energie AG", "f:Grünwald AG", "f:Hochschule Talheim",
        "n:Institut für Küstenforschung", "m:Verein für Vogelschutz Talheim", "Siemens", "Bosch",
        "Kessler & Partner", "f:Weltgesundheitsorganisation",
    ],
    "LOC": [
        "Hamburg", "Talheim", "Kellbach", "Lissabon", "Norwegen", "Österreich", "Mittelfeld",
        "Rostock", "Oslo", "Kenia", "Bad Rothenfels", "Neustadt am Wald", "f:Schweiz",
        "m:Schwarzwald", "m:Harz", "n:Allgäu", "f:Lüneburger Heide", "m:Spreewald",
        "n:Ruhrgebiet", "f:Uckermark", "n:Emsland", "Karsk",
    ],
    "ANIM": [
        "m:Rotfuchs", "m:Fischotter", "f:Schleiereule", "m:Buckelwal", "m:Grauwolf", "m:Igel",
        "m:Seehund", "m:Berner Sennenhund", "f:Honigbiene", "f:Meeresschildkröte",
        "m:Steinadler", "m:Dachs", "m:Kaiserpinguin", "m:Delfin", "m:Biber", "m:Feuersalamander",
        "m:Koala", "m:Luchs", "m:Border Collie", "n:Eichhörnchen", "f:Maine Coon",
        "m:Golden Retriever",
    ],
    "BIO": [
        "Escherichia coli", "Salmonella enterica", "Staphylococcus aureus", "Penicillium",
        "Plasmodium falciparum", "Bacillus subtilis", "Lactobacillus", "Candida albicans",
        "Aspergillus niger", "Saccharomyces cerevisiae", "Listeria monocytogenes", "Giardia",
        "Vibrio cholerae", "Clostridium", "Euglena", "Paramecium", "Trichoderma",
        "Streptococcus pyogenes", "Helicobacter pylori",
    ],
    "CEL": [
        "m:Mars", "f:Venus", "m:Jupiter", "m:Saturn", "m:Neptun", "m:Sirius", "f:Wega",
        "m:Polarstern", "m:Titan", "m:Ganymed", "f:Ceres", "Beteigeuze", "Proxima Centauri",
        "Alpha Centauri", "m:Andromedanebel", "m:Orionnebel", "m:Krebsnebel", "f:Milchstraße",
        "m:Pferdekopfnebel", "Kepler-22b",
    ],
    "DIS": [
        "f:Grippe", "f:Tuberkulose", "f:Malaria", "n:Asthma", "m:Diabetes", "f:Cholera",
        "f:Lungenentzündung", "f:Borreliose", "f:Alzheimer-Krankheit", "m:Keuchhusten",
        "m:Scharlach", "f:Hepatitis B", "n:Gelbfieber", "f:Migräne", "f:Bronchitis",
        "f:Parkinson-Krankheit", "f:Schlafkrankheit", "n:Denguefieber", "m:Mumps",
        "f:Creutzfeldt-Jakob-Krankheit",
    ],
    "EVE": [
        "n:Oktoberfest", "f:Schlacht bei Karsk", "n:Lichterfest von Kellbach", "f:Kieler Woche",
        "f:Leipziger Buchmesse", "f:Tour de France", "m:Eurovision Song Contest",
        "m:Berlin-Marathon", "f:Belagerung von Halden", "m:Bauernkrieg", "m:Mauerfall",
        "m:Wiener Kongress", "m:Wiener Opernball", "n:Jazzfestival Rostock",
        "f:Fußball-Weltmeisterschaft", "f:Nordland-Rebellion", "m:Karneval der Kulturen",
        "n:Hambacher Fest", "f:Pariser Weltausstellung", "n:Kirschblütenfest von Mittelfeld",
    ],
    "FOOD": [
        "m:Apfelstrudel", "m:Sauerbraten", "f:Schwarzwälder Kirschtorte", "n:Wiener Schnitzel",
        "f:Nürnberger Rostbratwurst", "m:Frankfurter Kranz", "n:Chili con Carne", "f:Paella",
        "n:Risotto", "n:Hummus", "m:Borschtsch", "m:Käsekuchen", "n:Gulasch", "f:Falafel",
        "n:Tiramisu", "f:Lasagne", "m:Flammkuchen", "f:Linsensuppe", "m:Kaiserschmarrn",
        "f:Currywurst", "m:Zwiebelkuchen", "f:Bouillabaisse",
    ],
    "INST": [
        "n:Cello", "f:Geige", "n:Klavier", "f:Oboe", "f:Trompete", "f:Harfe", "n:Akkordeon",
        "f:Klarinette", "m:Kontrabass", "n:Waldhorn", "f:E-Gitarre", "f:Querflöte",
        "n:Saxophon", "f:Sitar", "n:Fagott", "n:Schlagzeug", "n:Cembalo", "n:Banjo", "f:Tuba",
        "f:Orgel", "f:Mundharmonika",
    ],
    "MEDIA": [
        "Der stille Hafen", "Briefe aus Karsk", "Mitternachtsgarten", "Die gläserne Kartografin",
        "Ein Winter in Lissabon", "Blaues Rauschen", "Der letzte Fährmann", "Echo von Halden",
        "Papiermonde", "Die Kupferkrone", "Salzwasserlieder", "Unter dem eisernen Himmel",
        "Sonntagsgeister", "Die Tochter des Webers", "Kleine Stunden", "Die Kranich-Chroniken",
        "Fenster nach Norden", "Nachtzug nach Rostock", "Das Haus am Deich",
    ],
    "MYTH": [
        "Thor", "Zeus", "Odin", "Athene", "Anubis", "Loki", "Freya", "Poseidon", "Osiris",
        "Quetzalcoatl", "Medusa", "Herkules", "Apollon", "Frau Holle", "Baba Jaga", "Persephone",
        "Perun", "Amaterasu", "Rübezahl", "Fenrir", "m:Minotaurus",
    ],
    "PLANT": [
        "f:Eiche", "f:Sonnenblume", "m:Lavendel", "f:Birke", "m:Ahorn", "m:Farn", "f:Orchidee",
        "f:Weide", "m:Löwenzahn", "m:Bambus", "m:Kaktus", "m:Olivenbaum", "f:Waldkiefer",
        "m:Mammutbaum", "f:Seerose", "m:Fingerhut", "f:Tulpe", "m:Efeu", "f:Brennnessel",
        "m:Rhododendron", "f:Buche",
    ],
    "TIME": [
        "n:Mittelalter", "f:Bronzezeit", "f:Renaissance", "f:Eisenzeit", "f:Steinzeit",
        "f:Kreidezeit", "f:Aufklärung", "f:Edo-Zeit", "n:Barock", "f:Eiszeit", "f:Belle Époque",
        "f:Gründerzeit", "n:Biedermeier", "f:Jungsteinzeit", "f:Romantik",
        "f:Zwischenkriegszeit", "f:Antike", "f:Neuzeit", "n:Zeitalter der Entdeckungen",
        "f:Tang-Dynastie", "f:Weimarer Zeit",
    ],
    "VEHI": [
        "f:Boeing 747", "m:Airbus A320", "m:VW Käfer", "f:Concorde", "f:Vespa",
        "m:Land Rover Defender", "m:Trabant", "m:Tesla Model 3", "f:Cessna 172", "m:ICE 3",
        "m:Toyota Corolla", "m:Fiat 500", "m:Citroën 2CV", "m:Mini Cooper", "m:Jeep Wrangler",
        "m:Saab 900", "m:Volvo 240", "m:Unimog", "f:Simson Schwalbe", "n:Ford Modell T",
    ],
}

_DE_VOCAB: dict[str, list[str]] = {
    "year": [str(y) for y in range(1890, 2024)],
    "num": ["zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn", "elf",
            "zwölf"],
    "day": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    "month": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
              "September", "Oktober", "November", "Dezember"],
}

# German article/preposition forms by gender; None = name without article.
# Markers without a None entry require a gendered filler.
_DE_MARKERS: dict[str, dict[str | None, str]] = {
    "d.nom": {"m": "der", "f": "die", "n": "das", None: ""},
    "d.acc": {"m": "den", "f": "die", "n": "das", None: ""},
    "d.dat": {"m": "dem", "f": "der", "n": "dem", None: ""},
    "i.nom": {"m": "ein", "f": "eine", "n": "ein"},
    "i.acc": {"m": "einen", "f": "eine", "n": "ein"},
    "i.dat": {"m": "einem", "f": "einer", "n": "einem"},
    "sein.acc": {"m": "seinen", "f": "seine", "n": "sein"},
    "in.dat": {"m": "im", "f": "in der", "n": "im", None: "in"},
    "in.acc": {"m": "in den", "f": "in die", "n": "ins", None: "nach"},
    "an.dat": {"m": "am", "f": "an der", "n": "am", None: "an"},
    "von.dat": {"m": "vom", "f": "von der", "n": "vom", None: "von"},
    "zu.dat": {"m": "zum", "f": "zur", "n": "zum", None: "zu"},
    "bei.dat": {"m": "beim", "f": "bei der", "n": "beim", None: "bei"},
}

_EN_MARKERS: dict[str, dict[str | None, str]] = {
    "the": {"the": "the", None: ""},
    # "a" is resolved from the filler's first letter, see _marker_tokens.
    "a": {},
}

_RAW = {
    "en": (_EN_TEMPLATES, _EN_FILLERS, _EN_VOCAB, _EN_MARKERS),
    "de": (_DE_TEMPLATES, _DE_FILLERS, _DE_VOCAB, _DE_MARKERS),
}

# ---------------------------------------------------------------------------
# Parsing (done lazily, once per language)
# ---------------------------------------------------------------------------

# Parsed template item kinds.
_LIT, _CHOICE, _VOCAB, _ENT, _MARK = range(5)


def _parse_filler(lang: str, text: str) -> tuple[tuple[str, ...], str | None]:
    art: str | None = None
    if lang == "en" and text.startswith("~"):
        art, text = "the", text[1:]
    elif lang == "de" and len(text) > 2 and text[1] == ":" and text[0] in "mfn":
        art, text = text[0], text[2:]
    tokens = tuple(text.split())
    if not tokens:
        raise ValueError(f"empty filler in {lang}")
    return tokens, art


def _parse_template(line: str, vocab: dict, markers: dict) -> tuple[tuple, ...]:
    items: list[tuple] = []
    raw = line.split()
    for i, tok in enumerate(raw):
        if tok.startswith("{") and tok.endswith("}"):
            name = tok[1:-1]
            if name in ENTITY_TYPES:
                items.append((_ENT, name))
            elif name in vocab:
                items.append((_VOCAB, name))
            else:
                raise ValueError(f"unknown slot {tok!r} in template {line!r}")
        elif tok.startswith("(") and tok.endswith(")") and "|" in tok:
            alts = tuple(tuple(a.split("_")) for a in tok[1:-1].split("|"))
            if any(not a or not all(a) for a in alts):
                raise ValueError(f"empty alternative in {line!r}")
            items.append((_CHOICE, alts))
        elif tok.startswith("[") and tok.endswith("]"):
            name = tok[1:-1]
            key = name[0].lower() + name[1:]
            if key not in markers:
                raise ValueError(f"unknown marker {tok!r} in {line!r}")
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if not (nxt.startswith("{") and nxt[1:-1] in ENTITY_TYPES):
                raise ValueError(f"marker {tok!r} must precede an entity slot in {line!r}")
            items.append((_MARK, key, name[0].isupper()))
        else:
            items.append((_LIT, tok))
    return tuple(items)


_CACHE: dict[str, dict] = {}


def _language(lang: str) -> dict:
    if lang in _CACHE:
        return _CACHE[lang]
    if lang not in _RAW:
        raise ValueError(f"unsupported sample language {lang!r}; choose from {SAMPLE_LANGUAGES}")
    tmpl_text, fillers, vocab, markers = _RAW[lang]
    templates = [
        _parse_template(line, vocab, markers)
        for line in tmpl_text.strip().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    parsed_fillers = {t: [_parse_filler(lang, f) for f in fillers[t]] for t in ENTITY_TYPES}
    # Every marker must agree with every filler its slot can receive.
    for items in templates:
        for pos, it in enumerate(items):
            if it[0] == _MARK:
                for filler in parsed_fillers[items[pos + 1][1]]:
                    _marker_tokens(lang, markers, it[1], filler)
    by_type: dict[str | None, list[int]] = {t: [] for t in ENTITY_TYPES}
    by_type[None] = []
    for idx, items in enumerate(templates):
        types = {it[1] for it in items if it[0] == _ENT}
        if not types:
            by_type[None].append(idx)
        for t in types:
            by_type[t].append(idx)
    data = {
        "templates": templates,
        "by_type": by_type,
        "fillers": parsed_fillers,
        "vocab": vocab,
        "markers": markers,
    }
    _CACHE[lang] = data
    return data


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def _marker_tokens(lang: str, markers: dict, key: str, filler) -> list[str]:
    tokens, art = filler
    if lang == "en" and key == "a":
        out = "an" if tokens[0][0].lower() in "aeiou" else "a"
    else:
        table = markers[key]
        if art not in table:
            raise ValueError(f"marker [{key}] needs a filler with an article, got {tokens!r}")
        out = table[art]
    return out.split()


def _render(lang: str, items: tuple, rng: random.Random, data: dict) -> tuple[list[str], list[int]]:
    # Choose fillers first (markers look ahead), distinct within a sentence per type.
    chosen: list = []
    used: dict[str, set[int]] = {}
    for it in items:
        if it[0] == _ENT:
            pool = data["fillers"][it[1]]
            taken = used.setdefault(it[1], set())
            j = rng.randrange(len(pool))
            while j in taken:
                j = rng.randrange(len(pool))
            taken.add(j)
            chosen.append(pool[j])
    tokens: list[str] = []
    tags: list[int] = []
    ent_i = 0
    for it in items:
        kind = it[0]
        if kind == _LIT:
            new = [it[1]]
        elif kind == _CHOICE:
            new = list(rng.choice(it[1]))
        elif kind == _VOCAB:
            new = rng.choice(data["vocab"][it[1]]).split()
        elif kind == _MARK:
            new = _marker_tokens(lang, data["markers"], it[1], chosen[ent_i])
            if new and it[2]:
                new[0] = new[0][0].upper() + new[0][1:]
        else:  # entity
            ftoks = chosen[ent_i][0]
            ent_i += 1
            b, i = LABEL2ID[f"B-{it[1]}"], LABEL2ID[f"I-{it[1]}"]
            tokens.extend(ftoks)
            tags.extend([b] + [i] * (len(ftoks) - 1))
            continue
        tokens.extend(new)
        tags.extend([0] * len(new))
    if tokens and tokens[0][0].islower():
        tokens[0] = tokens[0][0].upper() + tokens[0][1:]
    return tokens, tags


def _quota(n: int) -> list[str | None]:
    """Largest-remainder allocation of n sentences over the focus types."""
    total = sum(_FOCUS_WEIGHTS.values())
    keys = list(_FOCUS_WEIGHTS)
    exact = [n * _FOCUS_WEIGHTS[k] / total for k in keys]
    counts = [int(x) for x in exact]
    rest = n - sum(counts)
    order = sorted(range(len(keys)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[:rest]:
        counts[i] += 1
    out: list[str | None] = []
    for k, c in zip(keys, counts):
        out.extend([k] * c)
    return out


def _add_noise(sentences: list[dict], rate: float, rng: random.Random) -> None:
    """Turn the B- tag of one entity into I- (after an O) in round(rate*n) sentences."""
    k = round(rate * len(sentences))
    if k <= 0:
        return
    candidates = []
    for si, s in enumerate(sentences):
        tags = s["ner_tags"]
        starts = [p for p in range(1, len(tags)) if tags[p] % 2 == 1 and tags[p - 1] == 0]
        if starts:
            candidates.append((si, starts))
    for si, starts in rng.sample(candidates, min(k, len(candidates))):
        p = rng.choice(starts)
        sentences[si]["ner_tags"][p] += 1  # B-X (odd id) -> I-X (id + 1)


def generate_sentences(lang: str, n: int, seed: int, *, noise_rate: float = 0.0) -> list[dict]:
    """Generate ``n`` synthetic sentences for ``lang`` ("en" or "de").

    Each item is ``{"tokens": [...], "ner_tags": [...], "lang": lang}`` with tag ids
    indexing :data:`LABELS`.  The result depends only on (lang, n, seed, noise_rate).
    ``noise_rate`` > 0 puts a BIO violation (an ``I-X`` right after ``O``) into
    ``round(noise_rate * n)`` sentences, imitating annotation noise in real data;
    :func:`write_sample_dataset` uses :data:`TRAIN_NOISE_RATE` for train only.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= noise_rate <= 1.0:
        raise ValueError("noise_rate must be within [0, 1]")
    data = _language(lang)
    rng = random.Random(f"snekner-sample/{lang}/{int(seed)}")
    focus = _quota(n)
    rng.shuffle(focus)
    out = []
    for f in focus:
        items = data["templates"][rng.choice(data["by_type"][f])]
        tokens, tags = _render(lang, items, rng, data)
        out.append({"tokens": tokens, "ner_tags": tags, "lang": lang})
    if noise_rate > 0:
        _add_noise(out, noise_rate, random.Random(f"snekner-sample-noise/{lang}/{int(seed)}"))
    return out


def split_seed(seed: int, split: str) -> int:
    """Seed used by :func:`write_sample_dataset` for ``split`` (distinct per split)."""
    return int(seed) * len(SPLITS) + SPLITS.index(split)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _readme(languages, sizes: dict, seed: int) -> str:
    lines = [
        f"# {_README_MARKER}",
        "",
        "Synthetic template sentences written for snekner (not taken from MultiNERD or any",
        "other corpus), generated by `snekner/data/sample.py`. Offline default for the demo",
        "and tests; far too easy and too small to say anything about real NER quality.",
        "",
        "Layout and fields follow the Hugging Face hub dataset Babelscape/multinerd:",
        "`{split}/{split}_{lang}.jsonl`, one JSON object per line with `tokens`, `ner_tags`, `lang`.",
        "Label ids are MultiNERD's: " + " ".join(f"{i}={l}" for i, l in enumerate(LABELS)),
        "",
        f"Languages: {', '.join(languages)}",
        "Sentences per language: " + ", ".join(f"{s}={sizes[s]}" for s in SPLITS),
        f"Seed: {seed} (split seeds: "
        + ", ".join(f"{s}={split_seed(seed, s)}" for s in SPLITS) + ")",
        f"Train contains deliberate BIO noise (I-X after O) in ~{TRAIN_NOISE_RATE:.1%} of sentences;"
        " val/test are clean.",
        "",
    ]
    return "\n".join(lines)


def _looks_like_sample_dir(path: pathlib.Path) -> bool:
    if not any(path.iterdir()):
        return True
    readme = path / "README.md"
    try:
        return _README_MARKER in readme.read_text(encoding="utf-8")
    except OSError:
        return False


def write_sample_dataset(out_dir, languages=SAMPLE_LANGUAGES, sizes=None, seed=0) -> pathlib.Path:
    """Write the sample in the Babelscape/multinerd hub layout and return ``out_dir``.

    Creates ``out_dir/{train,val,test}/{split}_{lang}.jsonl`` and ``out_dir/README.md``.
    ``sizes`` overrides entries of :data:`DEFAULT_SIZES` (sentences per language per
    split).  Everything is built in a temporary directory next to ``out_dir`` and
    renamed into place.  An existing ``out_dir`` is replaced only if it is empty or a
    previous sample (its README carries the sample marker); otherwise
    :class:`FileExistsError` is raised, so user data is never deleted.
    """
    out_dir = pathlib.Path(out_dir)
    languages = tuple(languages)
    for lang in languages:
        _language(lang)  # validates
    merged = dict(DEFAULT_SIZES)
    if sizes:
        unknown = set(sizes) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split(s) in sizes: {sorted(unknown)}")
        merged.update({k: int(v) for k, v in sizes.items()})
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FileExistsError(f"{out_dir} exists and is not a directory")
        if not _looks_like_sample_dir(out_dir):
            raise FileExistsError(
                f"{out_dir} exists and does not look like a snekner sample dataset; refusing to replace it"
            )
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp creates 0700
        for split in SPLITS:
            (tmp / split).mkdir()
            for lang in languages:
                rate = TRAIN_NOISE_RATE if split == "train" else 0.0
                sents = generate_sentences(lang, merged[split], split_seed(seed, split), noise_rate=rate)
                with open(tmp / split / f"{split}_{lang}.jsonl", "w", encoding="utf-8") as fh:
                    for s in sents:
                        fh.write(json.dumps(s, ensure_ascii=False) + "\n")
        (tmp / "README.md").write_text(_readme(languages, merged, seed), encoding="utf-8")
        try:
            os.replace(tmp, out_dir)  # out_dir absent (or an empty directory)
        except OSError:
            # out_dir holds a previous sample (possibly written concurrently by another
            # process): move it aside, put the new one in place, then delete the old one.
            if not (out_dir.is_dir() and _looks_like_sample_dir(out_dir)):
                raise
            old = pathlib.Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=parent))
            os.replace(out_dir, old / "d")
            try:
                os.replace(tmp, out_dir)
            except BaseException:
                os.replace(old / "d", out_dir)  # put the previous version back
                raise
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


if __name__ == "__main__":  # pragma: no cover - convenience entry point
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "multinerd_sample"
    print(write_sample_dataset(target))
