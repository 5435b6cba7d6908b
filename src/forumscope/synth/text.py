"""Benign text for the synthetic forum: templates, slot pools and personal writing style.

Everything here is written for a **benign** forum about game modding and software
piracy, fare dodging on public transport and doping in amateur sport (SAFETY.md:
the discourse mechanisms are the same across offences, so they are planted in
benign domains). Advice texts are deliberately generic ("keep a low profile"):
they carry the *mechanism* a tagger must find, not usable know-how.

Templates have slots filled per post:

``{act}``   the deviant act of the post's domain ("riding without a ticket")
``{thing}`` an object of the domain ("the night bus", "the Iron Legion 3 trainer")
``{them}``  the condemners / the other side ("the publishers", "the federation")
``{place}`` a place of the domain
``{num}``   a small number, ``{day}`` a weekday, ``{gate}`` a gated board, ``{rank}`` a rank name

A member's writing style (filler word, casing, punctuation, emoticon, sign-off,
spelling substitutions) is applied after the template is filled, see
:func:`apply_style`.
"""

from __future__ import annotations

# Label vocabulary (code 0 is "no label": ordinary on-topic post). Order defines the codes.
LABELS: tuple[str, ...] = (
    "opsec_advice",
    "technical_help",
    "guilt_easing",
    "neutralisation.denial_of_responsibility",
    "neutralisation.denial_of_injury",
    "neutralisation.denial_of_victim",
    "neutralisation.condemnation_of_condemners",
    "neutralisation.appeal_to_higher_loyalties",
    "normalisation",
    "help_seeking",
    "help_response",
    "social_chat",
    "rules_access",
    "request",
    "offer",
)
LABEL_CODE = {name: i + 1 for i, name in enumerate(LABELS)}

LABEL_DEFINITIONS: dict[str, str] = {
    "opsec_advice": "Advice on not getting caught or not being noticed (generic: keep a low profile, "
                    "separate accounts, do not brag).",
    "technical_help": "Technical help: how to install, fix or run something.",
    "guilt_easing": "Easing another member's guilt or worry about the deviant act.",
    "neutralisation.denial_of_responsibility": "Sykes & Matza: the act is blamed on circumstances or others "
                                               "('I had no choice').",
    "neutralisation.denial_of_injury": "Sykes & Matza: nobody is really harmed ('they make millions anyway').",
    "neutralisation.denial_of_victim": "Sykes & Matza: the victim deserved it ('they had it coming').",
    "neutralisation.condemnation_of_condemners": "Sykes & Matza: those who condemn are hypocrites or worse.",
    "neutralisation.appeal_to_higher_loyalties": "Sykes & Matza: the act serves friends, team or family.",
    "normalisation": "Perceived prevalence: 'everyone does it', the act is normal.",
    "help_seeking": "The writer wants to stop or asks for help to stop.",
    "help_response": "A supportive answer to a help-seeking post (encourages stopping or getting help).",
    "social_chat": "Everyday social talk unrelated to the forum's deviant topic.",
    "rules_access": "Talk about rules, ranks, promotion and access to boards.",
    "request": "Asks others for a file, item or favour.",
    "offer": "Offers or shares a file, item or favour (producer behaviour).",
}

DOMAINS: tuple[str, ...] = ("piracy", "fares", "doping")

# --------------------------------------------------------------------------- slots
SLOTS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "piracy": {
            "act": ("using cracked games", "running a pirated copy", "patching out the DRM",
                    "grabbing games from the old tracker", "playing the cracked build"),
            "thing": ("the Starfall Odyssey crack", "the Iron Legion 3 trainer", "the no-DRM patch",
                      "the modded launcher", "the Farm Empire unlocker", "the Neon Racer fix"),
            "them": ("the publishers", "the big studios", "the DRM vendors", "the game companies"),
            "place": ("the mods board", "the release thread", "the old tracker", "the patch archive"),
        },
        "fares": {
            "act": ("riding without a ticket", "dodging the fare", "skipping the ticket on the tram",
                    "taking the night bus without paying"),
            "thing": ("the monthly pass", "line 7", "the night bus", "the airport train", "the tram ticket"),
            "them": ("the transport company", "the ticket inspectors", "the city council", "the rail operator"),
            "place": ("the central station", "the tram stop", "the last carriage", "the ring line"),
        },
        "doping": {
            "act": ("taking boosters for club races", "using the recovery stuff", "doing a cycle before the season",
                    "microdosing before the amateur league"),
            "thing": ("the recovery pills", "the booster cycle", "the pre-race stuff", "the endurance supplement"),
            "them": ("the federation", "the pro teams", "the testers", "the club board"),
            "place": ("the local league", "the club race", "the amateur triathlon", "the cycling club"),
        },
    },
    "de": {
        "piracy": {
            "act": ("das Cracken", "das Zocken mit Raubkopien", "das Rauspatchen vom Kopierschutz",
                    "das Laden vom alten Tracker"),
            "thing": ("Starfall-Odyssey-Crack", "Iron-Legion-3-Trainer", "No-DRM-Patch",
                      "Launcher-Mod", "Farm-Empire-Unlocker"),
            "them": ("die Publisher", "die großen Studios", "die Kopierschutz-Firmen"),
            "place": ("Mod-Forum", "Release-Thread", "Patch-Archiv"),
        },
        "fares": {
            "act": ("das Schwarzfahren", "das Fahren ohne Ticket", "das Sparen am Fahrschein"),
            "thing": ("Monatskarte", "Linie 7", "Nachtbus", "S-Bahn", "Straßenbahn"),
            "them": ("die Verkehrsbetriebe", "die Kontrolleure", "die Stadt", "die Bahn"),
            "place": ("Hauptbahnhof", "Busbahnhof", "Bahnsteig", "Ringbahn-Ticketautomat"),
        },
        "doping": {
            "act": ("das Zeug vor den Rennen", "die Booster-Kur", "das Nachhelfen vor der Saison"),
            "thing": ("Regenerationspillen", "Booster-Kur", "Vorbereitungszeug", "Ausdauerpräparat"),
            "them": ("der Verband", "die Profiteams", "die Kontrolleure", "der Vereinsvorstand"),
            "place": ("Vereinsrennen", "Amateur-Triathlon", "Radverein", "Kreisliga-Training"),
        },
    },
    "es": {
        "piracy": {
            "act": ("piratear juegos", "usar copias crackeadas", "quitar el DRM", "bajar juegos del tracker viejo"),
            "thing": ("el crack de Starfall Odyssey", "el trainer de Iron Legion 3", "el parche sin DRM",
                      "el launcher modificado", "el desbloqueo de Farm Empire"),
            "them": ("las distribuidoras", "los grandes estudios", "las empresas del DRM"),
            "place": ("el foro de mods", "el hilo de lanzamientos", "el archivo de parches"),
        },
        "fares": {
            "act": ("colarse en el metro", "viajar sin billete", "no pagar el bus"),
            "thing": ("el abono mensual", "la línea 7", "el bus nocturno", "el cercanías", "el tranvía"),
            "them": ("la empresa de transporte", "los revisores", "el ayuntamiento", "la operadora"),
            "place": ("la estación central", "la parada del tranvía", "el último vagón", "la línea circular"),
        },
        "doping": {
            "act": ("tomar cosas antes de las carreras", "hacer un ciclo antes de la temporada",
                    "usar los suplementos raros"),
            "thing": ("las pastillas de recuperación", "el ciclo de refuerzo", "lo de antes de la carrera",
                      "el suplemento de resistencia"),
            "them": ("la federación", "los equipos profesionales", "los controladores", "la directiva del club"),
            "place": ("la liga local", "la carrera del club", "el triatlón amateur", "el club ciclista"),
        },
    },
}

DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}

# --------------------------------------------------------------------------- templates
# key "ordinary" = unlabelled on-topic post.
TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "ordinary": (
            "I spent {num} hours on {thing} this week. Not bad at all.",
            "Saw a long discussion about {thing} over at {place}. Worth a read.",
            "Back from {place}. Nothing special, same as always.",
            "Good point about {thing}. I had the same experience.",
            "Not sure about that. {thing} behaved differently for me.",
            "Anyone else noticed that {place} got busier since {day}?",
        ),
        "social_chat": (
            "How was your weekend everyone? I mostly slept and cooked.",
            "Happy {day} all. Anyone doing something fun?",
            "Finally got a new job, starting next {day}.",
            "Anyone watching the match tonight?",
            "Made lasagne for the first time. Went surprisingly well.",
            "Welcome to the forum. Nice to have you here.",
            "Long day at work, just want to relax and chat a bit.",
            "The weather here is awful again. Rain for {num} days straight.",
        ),
        "technical_help": (
            "To get {thing} running, copy the files into the data folder and restart the launcher.",
            "If it crashes on start, delete the cache folder and run it again.",
            "You need the older runtime for {thing}. The new one breaks it.",
            "Check the log file. The error usually tells you which file is missing.",
            "Step one: back up your saves. Step two: install {thing}. Step three: verify the files.",
        ),
        "opsec_advice": (
            "Don't brag about {act} to anyone you know. That's how people get caught.",
            "Keep a low profile with {thing}. No need to tell the whole world.",
            "Use a separate account for this stuff and keep it apart from your real one.",
            "Never talk about {act} at work. People remember.",
            "Don't post screenshots with your name on them. Simple as that.",
        ),
        "guilt_easing": (
            "Don't beat yourself up over {act}. It's really not a big deal.",
            "You shouldn't feel bad about it. We've all been there.",
            "Stop worrying so much. Nobody here thinks less of you.",
            "It's fine. Feeling guilty about {act} won't change anything.",
        ),
        "neutralisation.denial_of_responsibility": (
            "Honestly I had no choice. With prices like that what else can you do?",
            "It's not really my fault. {them} made it impossible to do it the legal way.",
            "I only started {act} because everyone around me pushed me into it.",
        ),
        "neutralisation.denial_of_injury": (
            "Nobody gets hurt by {act}. {them} make millions anyway.",
            "It's not like anyone loses anything. It's just {thing}.",
            "Where's the harm? {them} won't even notice.",
        ),
        "neutralisation.denial_of_victim": (
            "{them} had it coming with the way they treat people.",
            "Honestly {them} deserve it. They rip everyone off.",
            "If {them} were fair, nobody would be {act}.",
        ),
        "neutralisation.condemnation_of_condemners": (
            "{them} are the real crooks here. They cheat far more than we do.",
            "Funny how {them} lecture us while doing worse themselves.",
            "The people judging us for {act} are hypocrites.",
        ),
        "neutralisation.appeal_to_higher_loyalties": (
            "I do it for my friends. They couldn't afford it otherwise.",
            "My team needs me in shape, so {act} is just part of it.",
            "Family comes first. Saving money on {thing} helps us get by.",
        ),
        "normalisation": (
            "Everyone does it. {act} is completely normal around here.",
            "Half the people I know are {act}. Nobody cares.",
            "Come on, literally everybody at {place} does the same.",
            "It's so common that nobody even thinks about {act} anymore.",
        ),
        "help_seeking": (
            "I want to stop {act} but I keep going back to it. How did you quit?",
            "Does anyone know where I can talk to someone about stopping? I feel stuck.",
            "I'm tired of this and want to get out. Any advice on how to stop?",
            "Honestly {act} is getting out of hand for me. I need help.",
        ),
        "help_response": (
            "Good on you for asking. Talking to a counsellor helped me a lot, give it a try.",
            "You can do it. Start small and find someone you trust to talk to.",
            "There are free helplines for this. Reaching out is the right move.",
        ),
        "rules_access": (
            "How many posts do I need to get into the {gate}?",
            "Congrats on making {rank}. Well deserved!",
            "Please read the rules before posting. Threads without a proper title get locked.",
            "Just reached {rank}. Finally I can see the {gate}.",
            "Reminder: no spam for post count. The mods will reset it.",
        ),
        "request": (
            "Does anyone have {thing}? Looking for it for days.",
            "Request: {thing}, the newest version if possible.",
            "Can someone share {thing}? Mine stopped working.",
            "Looking for tips on {thing}. Anyone?",
        ),
        "offer": (
            "Uploaded {thing}. Grab it while it's up.",
            "New version of {thing} is ready. See the attachment.",
            "I made a fixed build of {thing}. Sharing it here.",
            "Posting my notes on {thing} for anyone who wants them.",
        ),
    },
    "de": {
        "ordinary": (
            "Ich habe diese Woche {num} Stunden mit {thing} verbracht. Gar nicht schlecht.",
            "Es gab eine lange Diskussion über {thing}. Lohnt sich zu lesen.",
            "Gerade zurück vom {place}. Nichts Besonderes, wie immer.",
            "Guter Punkt. Bei mir war es genauso.",
            "Bin mir nicht sicher. Bei mir lief das anders.",
        ),
        "social_chat": (
            "Wie war euer Wochenende? Ich habe nur geschlafen und gekocht.",
            "Schönen {day} euch allen. Was habt ihr vor?",
            "Endlich einen neuen Job. Ich fange nächsten {day} an.",
            "Schaut jemand heute Abend das Spiel?",
            "Willkommen im Forum. Schön, dass du da bist.",
            "Das Wetter hier ist wieder furchtbar. Seit {num} Tagen Regen.",
        ),
        "technical_help": (
            "Kopier die Dateien in den Datenordner und starte den Launcher neu.",
            "Wenn es beim Start abstürzt, lösch den Cache-Ordner und starte nochmal.",
            "Schau in die Logdatei. Da steht meistens, welche Datei fehlt.",
            "Erst die Spielstände sichern, dann installieren, dann die Dateien prüfen.",
        ),
        "opsec_advice": (
            "Erzähl bloß niemandem davon. So fliegen die Leute auf.",
            "Halt dich bedeckt. Muss ja nicht jeder wissen.",
            "Nimm für sowas einen eigenen Account und trenn den von deinem echten.",
            "Rede auf der Arbeit nie darüber. Die Leute merken sich das.",
        ),
        "guilt_easing": (
            "Mach dir keinen Kopf deswegen. Ist echt keine große Sache.",
            "Du musst dich nicht schlecht fühlen. Das haben wir alle schon gemacht.",
            "Hör auf, dir Sorgen zu machen. Hier denkt keiner schlecht von dir.",
        ),
        "neutralisation.denial_of_responsibility": (
            "Ehrlich, ich hatte keine Wahl. Bei den Preisen bleibt einem nichts anderes übrig.",
            "Ist nicht meine Schuld. Auf legalem Weg geht es ja kaum.",
            "Ich habe nur angefangen, weil alle um mich rum das machen.",
        ),
        "neutralisation.denial_of_injury": (
            "Dabei kommt doch niemand zu Schaden. {them} verdienen Millionen.",
            "Es verliert doch keiner was dabei.",
            "Wo ist der Schaden? Das merkt doch keiner.",
        ),
        "neutralisation.denial_of_victim": (
            "{them} haben es nicht anders verdient, so wie die mit Leuten umgehen.",
            "Ehrlich, {them} verdienen das. Die zocken doch alle ab.",
        ),
        "neutralisation.condemnation_of_condemners": (
            "{them} sind doch die wahren Betrüger hier.",
            "Lustig, dass ausgerechnet {them} uns belehren wollen.",
            "Die Leute, die uns dafür verurteilen, sind Heuchler.",
        ),
        "neutralisation.appeal_to_higher_loyalties": (
            "Ich mache das für meine Freunde. Die könnten es sich sonst nicht leisten.",
            "Mein Team braucht mich fit, das gehört halt dazu.",
            "Die Familie geht vor. Jeder gesparte Euro hilft.",
        ),
        "normalisation": (
            "Das macht doch jeder. {act} ist hier völlig normal.",
            "Die Hälfte meiner Bekannten macht das. Interessiert keinen.",
            "Ist so verbreitet, dass keiner mehr darüber nachdenkt.",
        ),
        "help_seeking": (
            "Ich will damit aufhören, aber ich fange immer wieder an. Wie habt ihr das geschafft?",
            "Weiß jemand, wo man mit jemandem übers Aufhören reden kann? Ich komme nicht weiter.",
            "Ich habe keine Lust mehr darauf und will raus. Habt ihr Tipps?",
        ),
        "help_response": (
            "Gut, dass du fragst. Mir hat eine Beratungsstelle sehr geholfen.",
            "Du schaffst das. Fang klein an und such dir jemanden zum Reden.",
            "Es gibt kostenlose Beratungstelefone dafür. Melde dich da ruhig.",
        ),
        "rules_access": (
            "Wie viele Beiträge brauche ich für den Zugang zur {gate}?",
            "Glückwunsch zum Rang {rank}. Verdient!",
            "Bitte lest die Regeln vor dem Posten. Threads ohne Titel werden geschlossen.",
            "Kein Spam für Beitragszahlen, sonst setzen die Mods euch zurück.",
        ),
        "request": (
            "Hat jemand {thing}? Suche schon seit Tagen.",
            "Suche: {thing}, am besten die neueste Version.",
            "Kann jemand {thing} teilen? Meins geht nicht mehr.",
        ),
        "offer": (
            "Habe {thing} hochgeladen. Schnell zugreifen.",
            "Neue Version ist fertig, siehe Anhang.",
            "Ich habe eine reparierte Version gebaut und teile sie hier.",
        ),
    },
    "es": {
        "ordinary": (
            "Esta semana pasé {num} horas con {thing}. Nada mal.",
            "Hubo una discusión larga sobre {thing}. Vale la pena leerla.",
            "Hoy estuve en {place}. Nada especial, lo de siempre.",
            "Buen punto. A mí me pasó lo mismo.",
            "No estoy seguro. A mí me funcionó distinto.",
        ),
        "social_chat": (
            "¿Qué tal el finde? Yo solo dormí y cociné.",
            "Feliz {day} a todos. ¿Algún plan?",
            "Por fin tengo trabajo nuevo, empiezo el próximo {day}.",
            "¿Alguien ve el partido esta noche?",
            "Bienvenido al foro. Qué bueno tenerte aquí.",
            "Aquí llueve otra vez. Llevamos {num} días así.",
        ),
        "technical_help": (
            "Copia los archivos en la carpeta de datos y reinicia el launcher.",
            "Si se cierra al arrancar, borra la carpeta de caché y vuelve a probar.",
            "Mira el archivo de log. Normalmente dice qué archivo falta.",
            "Primero guarda tus partidas, luego instala y después verifica los archivos.",
        ),
        "opsec_advice": (
            "No le cuentes a nadie lo de {act}. Así es como pillan a la gente.",
            "Mantén un perfil bajo. No hace falta que lo sepa todo el mundo.",
            "Usa una cuenta aparte para esto y no la mezcles con la tuya.",
            "Nunca hables de esto en el trabajo. La gente se acuerda.",
        ),
        "guilt_easing": (
            "No te agobies por eso. De verdad que no es para tanto.",
            "No tienes que sentirte mal. Todos hemos pasado por ahí.",
            "Deja de preocuparte. Aquí nadie piensa mal de ti.",
        ),
        "neutralisation.denial_of_responsibility": (
            "Sinceramente no tenía opción. Con esos precios qué vas a hacer.",
            "No es culpa mía. {them} lo ponen imposible por la vía legal.",
            "Empecé a {act} solo porque todos a mi alrededor lo hacían.",
        ),
        "neutralisation.denial_of_injury": (
            "Nadie sale perjudicado por {act}. {them} ganan millones igual.",
            "No es que alguien pierda algo.",
            "¿Dónde está el daño? Ni se van a enterar.",
        ),
        "neutralisation.denial_of_victim": (
            "{them} se lo tienen merecido por cómo tratan a la gente.",
            "La verdad es que {them} se lo merecen. Nos roban a todos.",
        ),
        "neutralisation.condemnation_of_condemners": (
            "{them} son los verdaderos ladrones aquí.",
            "Qué gracioso que {them} nos den lecciones haciendo cosas peores.",
            "Los que nos juzgan por {act} son unos hipócritas.",
        ),
        "neutralisation.appeal_to_higher_loyalties": (
            "Lo hago por mis amigos. Si no, no podrían permitírselo.",
            "Mi equipo me necesita en forma, así que forma parte de esto.",
            "Primero la familia. Cada euro ahorrado ayuda.",
        ),
        "normalisation": (
            "Todo el mundo lo hace. {act} es lo más normal aquí.",
            "La mitad de la gente que conozco lo hace. A nadie le importa.",
            "Es tan común que ya nadie piensa en ello.",
        ),
        "help_seeking": (
            "Quiero dejar de {act} pero siempre vuelvo. ¿Cómo lo dejasteis?",
            "¿Alguien sabe dónde puedo hablar con alguien para dejarlo? Me siento atascado.",
            "Estoy cansado de esto y quiero salir. ¿Algún consejo para parar?",
        ),
        "help_response": (
            "Bien por preguntar. A mí hablar con un orientador me ayudó mucho.",
            "Tú puedes. Empieza poco a poco y busca a alguien de confianza.",
            "Hay líneas de ayuda gratuitas para esto. Pedir ayuda es lo correcto.",
        ),
        "rules_access": (
            "¿Cuántos mensajes necesito para entrar en {gate}?",
            "Enhorabuena por llegar a {rank}. ¡Merecido!",
            "Leed las normas antes de publicar. Los hilos sin título se cierran.",
            "Nada de spam para subir el contador. Los mods lo resetean.",
        ),
        "request": (
            "¿Alguien tiene {thing}? Llevo días buscándolo.",
            "Pido: {thing}, la última versión si puede ser.",
            "¿Alguien puede compartir {thing}? El mío ya no va.",
        ),
        "offer": (
            "He subido {thing}. Descargadlo mientras esté.",
            "La nueva versión está lista, mirad el adjunto.",
            "Hice una versión arreglada y la comparto aquí.",
        ),
    },
}

# Extra unlabelled on-topic lines per domain (added to TEMPLATES[lang]["ordinary"]).
ORDINARY_BY_DOMAIN: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "piracy": ("Has anyone tried {thing} lately? Wondering if it still works after the last update.",
                   "Does {thing} work with the new version or do I need the old one?",
                   "The new season of {thing} looks great. Mods should be out soon."),
        "fares": ("Prices for {thing} went up again this month.",
                  "{Thing} was late three times this week. Great service.",
                  "They are rebuilding {place} again, total chaos."),
        "doping": ("Did {num} km this morning before work. Legs are dead.",
                   "Anyone racing at {place} next {day}?",
                   "New personal best at {place}. Happy with that."),
    },
    "de": {
        "piracy": ("Hat jemand in letzter Zeit {thing} ausprobiert? Läuft das noch nach dem Update?",
                   "Die neue Version sieht gut aus. Mods kommen bestimmt bald."),
        "fares": ("Die Preise sind schon wieder gestiegen, {thing} kostet jetzt mehr.",
                  "Diese Woche war alles dreimal verspätet. Toller Service."),
        "doping": ("Heute früh {num} km vor der Arbeit. Beine sind tot.",
                   "Neue Bestzeit beim {place}. Bin zufrieden."),
    },
    "es": {
        "piracy": ("¿Alguien ha probado {thing} últimamente? No sé si sigue funcionando tras la actualización.",
                   "La nueva versión pinta bien. Seguro que pronto salen mods."),
        "fares": ("Han vuelto a subir los precios de {thing}.",
                  "Esta semana todo llegó tarde tres veces. Un servicio genial."),
        "doping": ("Hoy hice {num} km antes del trabajo. Tengo las piernas muertas.",
                   "Nueva mejor marca en {place}. Contento."),
    },
}

TITLES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "ordinary": ("Question about {thing}", "{thing} discussion", "Thoughts on {thing}?", "About {place}",
                     "{thing} after the update"),
        "social_chat": ("Weekend thread", "Off-topic chat", "What are you up to?", "Hello from a new member"),
        "technical_help": ("[Guide] {thing}", "How to install {thing}", "Fix for crashes"),
        "request": ("[REQ] {thing}", "Looking for {thing}"),
        "offer": ("[REL] {thing}", "Sharing {thing}"),
        "help_seeking": ("I want to stop", "Need some advice"),
        "rules_access": ("Rules and ranks", "Access to the {gate}", "Forum rules (read first)"),
    },
    "de": {
        "ordinary": ("Frage zu {thing}", "Diskussion: {thing}", "Meinungen?", "Neues vom {place}"),
        "social_chat": ("Wochenend-Thread", "Plauderthread", "Was macht ihr so?", "Hallo von einem Neuen"),
        "technical_help": ("[Anleitung] Installation", "Hilfe bei Abstürzen"),
        "request": ("[Suche] {thing}",),
        "offer": ("[Biete] {thing}",),
        "help_seeking": ("Ich will aufhören", "Brauche Rat"),
        "rules_access": ("Regeln und Ränge", "Zugang zur {gate}"),
    },
    "es": {
        "ordinary": ("Pregunta sobre {thing}", "Hablemos de {thing}", "¿Opiniones?", "Novedades: {place}"),
        "social_chat": ("Hilo del finde", "Charla libre", "¿Qué tal todo?", "Hola, soy nuevo"),
        "technical_help": ("[Guía] Instalación", "Ayuda con cierres"),
        "request": ("[Pido] {thing}",),
        "offer": ("[Ofrezco] {thing}",),
        "help_seeking": ("Quiero dejarlo", "Necesito consejo"),
        "rules_access": ("Normas y rangos", "Acceso a {gate}"),
    },
}

# --------------------------------------------------------------------------- style
FILLERS = {
    "en": ("tbh", "honestly", "basically", "ngl", "imo", "like", "anyway", "lol", "idk", "fwiw", "seriously", "meh"),
    "de": ("halt", "eigentlich", "quasi", "irgendwie", "ehrlich gesagt", "naja", "sozusagen", "echt", "lol",
           "jedenfalls"),
    "es": ("pues", "o sea", "bueno", "la verdad", "en plan", "tío", "vale", "jaja", "es que", "igual"),
}
EMOTICONS = (":)", ":D", ";)", "xD", "^^", ":P", "-_-", ":-)", "o_O", ":/", "<3", "8)")
SIGNOFFS = ("cheers", "greetz", "peace", "-- K.", "~ the fixer", "stay safe", "mfg", "saludos", "ciao",
            "later", "regards, M.", "// out", "gg", "tschüss", "un abrazo", "salut")
# Spelling habits: (from, to) word substitutions; a member uses a subset (bit mask).
SUBSTITUTIONS = {
    "en": (("you", "u"), ("because", "cuz"), ("probably", "prolly"), ("though", "tho"), ("really", "rly"),
           ("people", "ppl")),
    "de": (("nicht", "nich"), ("ist", "is"), ("habe", "hab"), ("einen", "nen"), ("etwas", "was"), ("mal", "ma")),
    "es": (("que", "q"), ("por", "x"), ("también", "tb"), ("porque", "pq"), ("para", "pa"), ("muy", "mu")),
}
N_SUBST = 6


_SLOT_NAMES = ("act", "thing", "them", "place")


def _capitalise_sentence_slots(t: str) -> str:
    """Use the capitalised slot variant ({Them}) where a slot opens a sentence."""
    for k in _SLOT_NAMES:
        slot, cap = "{" + k + "}", "{" + k.capitalize() + "}"
        if t.startswith(slot):
            t = cap + t[len(slot):]
        for end in (". ", "! ", "? "):
            t = t.replace(end + slot, end + cap)
    return t


for _lang_t in (TEMPLATES, TITLES, ORDINARY_BY_DOMAIN):
    for _by_label in _lang_t.values():
        for _k, _v in list(_by_label.items()):
            _by_label[_k] = tuple(_capitalise_sentence_slots(t) for t in _v)

# Unlabelled templates per (language, domain): the generic ones plus the domain's own.
ORDINARY: dict[str, dict[str, tuple[str, ...]]] = {
    lang: {dom: TEMPLATES[lang]["ordinary"] + ORDINARY_BY_DOMAIN[lang][dom] for dom in DOMAINS}
    for lang in TEMPLATES
}


def apply_style(text: str, lang: str, filler: int, filler_pos: int, use_filler: bool, casing: int,
                ellipsis: bool, exclam: bool, emoticon: int, use_emoticon: bool, signoff: int,
                use_signoff: bool, subst_mask: int) -> str:
    """Apply one member's writing habits to a filled template (deterministic; no randomness here)."""
    if subst_mask:
        words = text.split(" ")
        pairs = SUBSTITUTIONS[lang]
        for i in range(N_SUBST):
            if subst_mask >> i & 1:
                a, b = pairs[i]
                words = [b if w == a else w for w in words]
        text = " ".join(words)
    if use_filler and filler >= 0:
        f = FILLERS[lang][filler]
        if filler_pos == 0:
            if text[0] in "¿¡":
                text = f"{f}, {text[0]}{text[1:2].lower()}{text[2:]}"
            else:
                text = f"{f} {text[0].lower()}{text[1:]}"
        else:
            end = text[-1] if text[-1] in ".!?" else ""
            text = f"{text[:-1] if end else text}, {f}{end}"
    if ellipsis:
        text = text.replace(". ", "... ")
        if text.endswith(".") and not text.endswith("..."):
            text += ".."
    if exclam:
        text = text.replace("!", "!!").replace("?", "??")
    if casing == 1:
        text = text.lower()
    elif casing == 2:
        text = text[0].upper() + text[1:]
        if text.endswith(".") and not text.endswith(".."):
            text = text[:-1]
    if use_emoticon and emoticon >= 0:
        text = f"{text} {EMOTICONS[emoticon]}"
    if use_signoff and signoff >= 0:
        text = f"{text}\n{SIGNOFFS[signoff]}"
    return text


def capitalise(s: str) -> str:
    """Upper-case the first letter (after an opening ¿ or ¡)."""
    if not s:
        return s
    if s[0] in "¿¡" and len(s) > 1:
        return s[0] + s[1].upper() + s[2:]
    return s[0].upper() + s[1:]
