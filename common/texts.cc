// texts.cc: the table of texts.h, one row per text, one column per language (en, de, fr).
#include "common/texts.h"

#include <array>

namespace certpress {

namespace {

struct Entry {
  Txt id;
  std::string_view name;
  std::array<std::string_view, 3> text;  // in the order of kLangs
};

// Page texts are plain text: the pages escape them and split paragraphs at blank lines. The
// mail templates (activation and invitation) are the mails' text and HTML parts as sent.
constexpr Entry kTable[] = {
    {Txt::kOptional, "Optional", {"(optional)", "(optional)", "(facultatif)"}},
    {Txt::kCorrectTheFollowing,
     "CorrectTheFollowing",
     {"Please correct the following", "Bitte korrigieren Sie Folgendes",
      "Veuillez corriger les points suivants"}},
    {Txt::kTryLaterTitle,
     "TryLaterTitle",
     {"Please try again later", "Bitte versuchen Sie es später erneut",
      "Veuillez réessayer plus tard"}},
    {Txt::kTryLaterBody,
     "TryLaterBody",
     {"The service could not complete your request just now. Nothing was used up: your link "
      "still works. Please try again in a few minutes.",
      "Der Dienst konnte Ihre Anfrage gerade nicht ausführen. Es wurde nichts verbraucht: Ihr "
      "Link funktioniert weiterhin. Bitte versuchen Sie es in einigen Minuten erneut.",
      "Le service n’a pas pu traiter votre demande pour le moment. Rien n’a été consommé : "
      "votre lien fonctionne toujours. Veuillez réessayer dans quelques minutes."}},
    {Txt::kInvalidLinkTitle,
     "InvalidLinkTitle",
     {"This link cannot be used", "Dieser Link kann nicht verwendet werden",
      "Ce lien ne peut pas être utilisé"}},
    {Txt::kInvalidLinkBody,
     "InvalidLinkBody",
     {"The link you followed is not valid. It may have expired, been used already, been "
      "replaced by a newer link, or been locked after too many wrong activation codes.\n\n"
      "Please ask your administrator to send you a new link.",
      "Der Link, dem Sie gefolgt sind, ist nicht gültig. Er ist vielleicht abgelaufen, wurde "
      "schon verwendet, durch einen neueren Link ersetzt oder nach zu vielen falschen "
      "Aktivierungscodes gesperrt.\n\nBitte wenden Sie sich an Ihre Administration, damit sie "
      "Ihnen einen neuen Link sendet.",
      "Le lien que vous avez suivi n’est pas valide. Il a peut-être expiré, déjà été utilisé, "
      "été remplacé par un lien plus récent ou été verrouillé après trop de codes d’activation "
      "erronés.\n\nDemandez à votre administrateur de vous envoyer un nouveau lien."}},
    {Txt::kTooManyTitle,
     "TooManyTitle",
     {"Too many requests", "Zu viele Anfragen", "Trop de requêtes"}},
    {Txt::kTooManyBody,
     "TooManyBody",
     {"Too many requests came from your address. Please wait a minute and try again.",
      "Von Ihrer Adresse kamen zu viele Anfragen. Bitte warten Sie eine Minute und versuchen "
      "Sie es dann erneut.",
      "Trop de requêtes sont venues de votre adresse. Veuillez patienter une minute puis "
      "réessayer."}},
    {Txt::kMethodTitle,
     "MethodTitle",
     {"Method not allowed", "Methode nicht erlaubt", "Méthode non autorisée"}},
    {Txt::kMethodBody,
     "MethodBody",
     {"This page cannot be used that way.", "Diese Seite kann so nicht verwendet werden.",
      "Cette page ne peut pas être utilisée ainsi."}},
    {Txt::kBadRequestTitle,
     "BadRequestTitle",
     {"Bad request", "Ungültige Anfrage", "Requête invalide"}},
    {Txt::kBadRequestBody,
     "BadRequestBody",
     {"Bad request.", "Ungültige Anfrage.", "Requête invalide."}},
    {Txt::kFormUnreadable,
     "FormUnreadable",
     {"The form could not be read.", "Das Formular konnte nicht gelesen werden.",
      "Le formulaire n’a pas pu être lu."}},
    {Txt::kNotFoundTitle,
     "NotFoundTitle",
     {"Page not found", "Seite nicht gefunden", "Page introuvable"}},
    {Txt::kNotFoundBody,
     "NotFoundBody",
     {"There is no page at this address.", "Unter dieser Adresse gibt es keine Seite.",
      "Il n’y a pas de page à cette adresse."}},
    {Txt::kIndexTitle,
     "IndexTitle",
     {"Certificate pickup", "Zertifikatsabholung", "Retrait de certificat"}},
    {Txt::kIndexBody,
     "IndexBody",
     {"This service hands out certificates. To collect yours, open the link in the email you "
      "received.",
      "Dieser Dienst gibt Zertifikate aus. Um Ihres abzuholen, öffnen Sie den Link in der "
      "E-Mail, die Sie erhalten haben.",
      "Ce service délivre des certificats. Pour retirer le vôtre, ouvrez le lien de l’e-mail "
      "que vous avez reçu."}},
    {Txt::kPickupTitle,
     "PickupTitle",
     {"Collect your certificate", "Ihr Zertifikat abholen", "Retirer votre certificat"}},
    {Txt::kCodeLabel, "CodeLabel", {"Activation code", "Aktivierungscode", "Code d’activation"}},
    {Txt::kCodeHint,
     "CodeHint",
     {"The code you received separately from this email (by letter or from your "
      "administrator), for example ABCDE-12345.",
      "Der Code, den Sie getrennt von dieser E-Mail erhalten haben (per Brief oder von Ihrer "
      "Administration), zum Beispiel ABCDE-12345.",
      "Le code que vous avez reçu séparément de cet e-mail (par courrier ou de votre "
      "administrateur), par exemple ABCDE-12345."}},
    {Txt::kPasswordLabel,
     "PasswordLabel",
     {"New password for the certificate file", "Neues Passwort für die Zertifikatsdatei",
      "Nouveau mot de passe du fichier de certificat"}},
    {Txt::kPasswordHint,
     "PasswordHint",
     {"At least {min} characters. This password alone protects your private key in the "
      "downloaded file: a passphrase of four or more unrelated words is strong.",
      "Mindestens {min} Zeichen. Nur dieses Passwort schützt Ihren privaten Schlüssel in der "
      "heruntergeladenen Datei: Eine Passphrase aus vier oder mehr unzusammenhängenden Wörtern "
      "ist stark.",
      "Au moins {min} caractères. Ce mot de passe protège seul votre clé privée dans le "
      "fichier téléchargé : une phrase de passe de quatre mots sans rapport ou plus est "
      "robuste."}},
    {Txt::kPassword2Label,
     "Password2Label",
     {"Repeat the password", "Passwort wiederholen", "Répétez le mot de passe"}},
    {Txt::kHandsOutCertOf,
     "HandsOutCertOf",
     {"This page hands out the certificate of:",
      "Diese Seite gibt das Zertifikat dieser Person aus:",
      "Cette page délivre le certificat de :"}},
    {Txt::kHolderName, "HolderName", {"Name", "Name", "Nom"}},
    {Txt::kHolderEmail, "HolderEmail", {"Email", "E-Mail", "E-mail"}},
    {Txt::kLinkValidUntil,
     "LinkValidUntil",
     {"Link valid until", "Link gültig bis", "Lien valable jusqu’au"}},
    {Txt::kCsrNotice,
     "CsrNotice",
     {"You hold this certificate's private key yourself. Once you have entered the code, this "
      "page gives you the certificate, alone (DER) and with the chain of the authorities that "
      "issued it (PEM). The link works once.",
      "Den privaten Schlüssel dieses Zertifikats besitzen Sie selbst. Sobald Sie den Code "
      "eingegeben haben, erhalten Sie hier das Zertifikat, allein (DER) und mit der Kette der "
      "ausstellenden Zertifizierungsstellen (PEM). Der Link funktioniert einmal.",
      "Vous détenez vous-même la clé privée de ce certificat. Une fois le code saisi, cette "
      "page vous donne le certificat, seul (DER) et avec la chaîne des autorités qui l’ont "
      "émis (PEM). Le lien ne fonctionne qu’une fois."}},
    {Txt::kPkcs12Notice,
     "Pkcs12Notice",
     {"Your certificate and its private key are packed into one PKCS#12 file (.p12), "
      "encrypted with the password you choose here. The link works once: keep the file and "
      "the password safe.",
      "Ihr Zertifikat und sein privater Schlüssel werden in eine PKCS#12-Datei (.p12) "
      "gepackt, verschlüsselt mit dem Passwort, das Sie hier wählen. Der Link funktioniert "
      "einmal: Bewahren Sie Datei und Passwort sicher auf.",
      "Votre certificat et sa clé privée sont réunis dans un fichier PKCS#12 (.p12), chiffré "
      "avec le mot de passe que vous choisissez ici. Le lien ne fonctionne qu’une fois : "
      "conservez le fichier et le mot de passe en lieu sûr."}},
    {Txt::kShowCert,
     "ShowCert",
     {"Get the certificate", "Zertifikat abrufen", "Obtenir le certificat"}},
    {Txt::kCertReadyTitle,
     "CertReadyTitle",
     {"Your certificate", "Ihr Zertifikat", "Votre certificat"}},
    {Txt::kCertReadyBody,
     "CertReadyBody",
     {"Save both files now: this link works once and will not show them again.",
      "Speichern Sie jetzt beide Dateien: Dieser Link funktioniert einmal und zeigt sie nicht "
      "wieder an.",
      "Enregistrez maintenant les deux fichiers : ce lien ne fonctionne qu’une fois et ne les "
      "affichera plus."}},
    {Txt::kDownloadPem,
     "DownloadPem",
     {"Download the certificate with its chain (PEM, .pem)",
      "Zertifikat mit Kette herunterladen (PEM, .pem)",
      "Télécharger le certificat avec sa chaîne (PEM, .pem)"}},
    {Txt::kDownloadDer,
     "DownloadDer",
     {"Download the certificate alone (DER, .cer)", "Nur das Zertifikat herunterladen (DER, .cer)",
      "Télécharger le certificat seul (DER, .cer)"}},
    {Txt::kPemBelow,
     "PemBelow",
     {"The same certificate and chain in PEM, to copy:",
      "Dasselbe Zertifikat mit Kette in PEM, zum Kopieren:",
      "Le même certificat et sa chaîne en PEM, à copier :"}},
    {Txt::kDownloadPkcs12,
     "DownloadPkcs12",
     {"Download the certificate file (.p12)", "Zertifikatsdatei herunterladen (.p12)",
      "Télécharger le fichier de certificat (.p12)"}},
    {Txt::kFormExpiredFillAgain,
     "FormExpiredFillAgain",
     {"This form has expired. Please fill it in again.",
      "Dieses Formular ist abgelaufen. Bitte füllen Sie es erneut aus.",
      "Ce formulaire a expiré. Veuillez le remplir à nouveau."}},
    {Txt::kEnterCode,
     "EnterCode",
     {"Enter the activation code.", "Geben Sie den Aktivierungscode ein.",
      "Saisissez le code d’activation."}},
    {Txt::kPasswordTooShort,
     "PasswordTooShort",
     {"Choose a password of at least {n} characters.",
      "Wählen Sie ein Passwort mit mindestens {n} Zeichen.",
      "Choisissez un mot de passe d’au moins {n} caractères."}},
    {Txt::kPasswordTooLong,
     "PasswordTooLong",
     {"The password may have at most {n} characters.",
      "Das Passwort darf höchstens {n} Zeichen haben.",
      "Le mot de passe peut compter au plus {n} caractères."}},
    {Txt::kPasswordControl,
     "PasswordControl",
     {"The password may not contain control characters (such as a tab or a line break).",
      "Das Passwort darf keine Steuerzeichen (etwa Tabulator oder Zeilenumbruch) enthalten.",
      "Le mot de passe ne peut pas contenir de caractères de contrôle (tabulation, saut de "
      "ligne…)."}},
    {Txt::kPasswordsDiffer,
     "PasswordsDiffer",
     {"The two passwords differ.", "Die beiden Passwörter unterscheiden sich.",
      "Les deux mots de passe diffèrent."}},
    {Txt::kWrongCode,
     "WrongCode",
     {"The activation code is not correct. {n} attempt(s) left.",
      "Der Aktivierungscode ist nicht korrekt. Verbleibende Versuche: {n}.",
      "Le code d’activation est incorrect. Essai(s) restant(s) : {n}."}},
    {Txt::kApplyTitle,
     "ApplyTitle",
     {"Apply for a certificate", "Ein Zertifikat beantragen", "Demander un certificat"}},
    {Txt::kInvitedTo,
     "InvitedTo",
     {"{name}, you are invited to apply for: {what}.",
      "{name}, Sie sind eingeladen, Folgendes zu beantragen: {what}.",
      "{name}, vous êtes invité(e) à demander : {what}."}},
    {Txt::kReviewNotice,
     "ReviewNotice",
     {"An administrator reviews your application before the certificate is issued. You will "
      "then get an email telling you how to collect it.",
      "Ihr Antrag wird von der Administration geprüft, bevor das Zertifikat ausgestellt wird. "
      "Danach erhalten Sie eine E-Mail, die Ihnen sagt, wie Sie es abholen.",
      "Un administrateur examine votre demande avant l’émission du certificat. Vous recevrez "
      "ensuite un e-mail indiquant comment le retirer."}},
    {Txt::kSubmitApplication,
     "SubmitApplication",
     {"Submit the application", "Antrag absenden", "Envoyer la demande"}},
    {Txt::kFormExpiredSubmitAgain,
     "FormExpiredSubmitAgain",
     {"This form has expired. Please submit it again.",
      "Dieses Formular ist abgelaufen. Bitte senden Sie es erneut ab.",
      "Ce formulaire a expiré. Veuillez le renvoyer."}},
    {Txt::kCsrLabel,
     "CsrLabel",
     {"Certificate signing request (PKCS#10, PEM)", "Zertifikatsantrag (PKCS#10, PEM)",
      "Demande de signature de certificat (PKCS#10, PEM)"}},
    {Txt::kCsrHint,
     "CsrHint",
     {"Paste the request your server made, from -----BEGIN CERTIFICATE REQUEST----- to the "
      "END line, or choose its file below. Its key stays with you.",
      "Fügen Sie den Antrag ein, den Ihr Server erstellt hat, von -----BEGIN CERTIFICATE "
      "REQUEST----- bis zur END-Zeile, oder wählen Sie unten seine Datei. Der Schlüssel bleibt "
      "bei Ihnen.",
      "Collez la demande produite par votre serveur, de -----BEGIN CERTIFICATE REQUEST----- "
      "jusqu’à la ligne END, ou choisissez son fichier ci-dessous. Sa clé reste chez vous."}},
    {Txt::kCsrFileLabel,
     "CsrFileLabel",
     {"Or the request as a file", "Oder der Antrag als Datei",
      "Ou la demande sous forme de fichier"}},
    {Txt::kCsrFileHint,
     "CsrFileHint",
     {"A .csr, .pem or .der file: PEM or DER.", "Eine .csr-, .pem- oder .der-Datei: PEM oder DER.",
      "Un fichier .csr, .pem ou .der : PEM ou DER."}},
    {Txt::kCsrOneOfBoth,
     "CsrOneOfBoth",
     {"Paste the request or choose its file, not both.",
      "Fügen Sie den Antrag ein oder wählen Sie seine Datei, nicht beides.",
      "Collez la demande ou choisissez son fichier, pas les deux."}},
    {Txt::kCsrMissing,
     "CsrMissing",
     {"Paste the request or choose its file.",
      "Fügen Sie den Antrag ein oder wählen Sie seine Datei.",
      "Collez la demande ou choisissez son fichier."}},
    // The checks of a submitted request (ra::SubmitCsr: its signature, key, curve, names and
    // extensions against the profile) say why in English only; the lead sentence is the
    // page's language and says that the detail is not.
    {Txt::kCsrRefused,
     "CsrRefused",
     {"The certificate signing request was refused: {detail}",
      "Der Zertifikatsantrag wurde abgelehnt. Technische Meldung (auf Englisch): {detail}",
      "La demande de certificat a été refusée. Message technique (en anglais) : {detail}"}},
    {Txt::kReceivedTitle,
     "ReceivedTitle",
     {"Application received", "Antrag eingegangen", "Demande reçue"}},
    {Txt::kReceivedBody,
     "ReceivedBody",
     {"Thank you. Your application was received as request number {n}.\n\nAn administrator "
      "will review it. When your certificate is ready you will get an email with a link to "
      "collect it. This invitation link cannot be used again.",
      "Vielen Dank. Ihr Antrag ist unter der Nummer {n} eingegangen.\n\nDie Administration "
      "prüft ihn. Sobald Ihr Zertifikat bereitsteht, erhalten Sie eine E-Mail mit einem Link "
      "zum Abholen. Dieser Einladungslink kann nicht erneut verwendet werden.",
      "Merci. Votre demande a été reçue sous le numéro {n}.\n\nUn administrateur va "
      "l’examiner. Quand votre certificat sera prêt, vous recevrez un e-mail avec un lien pour "
      "le retirer. Ce lien d’invitation ne peut plus être utilisé."}},
    {Txt::kHintEmail,
     "HintEmail",
     {"An email address, such as name@example.org.", "Eine E-Mail-Adresse, etwa name@example.org.",
      "Une adresse e-mail, par exemple nom@example.org."}},
    {Txt::kHintDns,
     "HintDns",
     {"A host name, such as www.example.org.", "Ein Hostname, etwa www.example.org.",
      "Un nom d’hôte, par exemple www.example.org."}},
    {Txt::kHintDnsList,
     "HintDnsList",
     {"Host names separated by commas.", "Hostnamen, durch Kommas getrennt.",
      "Des noms d’hôte séparés par des virgules."}},
    {Txt::kHintIpList,
     "HintIpList",
     {"IP addresses separated by commas.", "IP-Adressen, durch Kommas getrennt.",
      "Des adresses IP séparées par des virgules."}},
    {Txt::kHintPattern,
     "HintPattern",
     {"Must match the pattern {pattern}.", "Muss dem Muster {pattern} entsprechen.",
      "Doit correspondre au motif {pattern}."}},
    {Txt::kHintFromCsr,
     "HintFromCsr",
     {"Leave empty to take it from the request.",
      "Leer lassen: Der Wert wird aus dem Antrag übernommen.",
      "Laisser vide : la valeur est reprise de la demande."}},
    {Txt::kHintFromInvitation,
     "HintFromInvitation",
     {"Set by your invitation.", "Durch Ihre Einladung festgelegt.", "Fixé par votre invitation."}},
    {Txt::kErrRequired,
     "ErrRequired",
     {"Please fill in this field.", "Bitte füllen Sie dieses Feld aus.",
      "Veuillez remplir ce champ."}},
    {Txt::kErrTooLong,
     "ErrTooLong",
     {"At most {max} characters ({n} given).", "Höchstens {max} Zeichen ({n} eingegeben).",
      "Au plus {max} caractères ({n} saisis)."}},
    {Txt::kErrSpaces,
     "ErrSpaces",
     {"No spaces at the start or the end, please.", "Bitte keine Leerzeichen am Anfang oder Ende.",
      "Pas d’espace au début ni à la fin, s’il vous plaît."}},
    {Txt::kErrNotEmail,
     "ErrNotEmail",
     {"'{value}' is not an email address.", "„{value}“ ist keine E-Mail-Adresse.",
      "« {value} » n’est pas une adresse e-mail."}},
    {Txt::kErrNotDns,
     "ErrNotDns",
     {"'{value}' is not a host name.", "„{value}“ ist kein Hostname.",
      "« {value} » n’est pas un nom d’hôte."}},
    {Txt::kErrNotIp,
     "ErrNotIp",
     {"'{value}' is not an IP address.", "„{value}“ ist keine IP-Adresse.",
      "« {value} » n’est pas une adresse IP."}},
    {Txt::kErrPattern,
     "ErrPattern",
     {"'{value}' does not match the pattern {pattern}.",
      "„{value}“ entspricht nicht dem Muster {pattern}.",
      "« {value} » ne correspond pas au motif {pattern}."}},
    {Txt::kErrFixedByInvitation,
     "ErrFixedByInvitation",
     {"Your invitation sets this to '{value}'; it cannot be changed here.",
      "Ihre Einladung legt dies auf „{value}“ fest; es kann hier nicht geändert werden.",
      "Votre invitation fixe cette valeur à « {value} » ; elle ne peut pas être modifiée ici."}},
    {Txt::kFieldGivenName, "FieldGivenName", {"Given name", "Vorname", "Prénom"}},
    {Txt::kFieldSurname, "FieldSurname", {"Surname", "Nachname", "Nom"}},
    {Txt::kFieldName, "FieldName", {"Name", "Name", "Nom complet"}},
    {Txt::kFieldEmail, "FieldEmail", {"Email", "E-Mail-Adresse", "Adresse e-mail"}},
    {Txt::kFieldEmployeeId, "FieldEmployeeId", {"Employee id", "Personalnummer", "Matricule"}},
    {Txt::kFieldCn, "FieldCn", {"Host name (CN)", "Hostname (CN)", "Nom d’hôte (CN)"}},
    {Txt::kFieldDns, "FieldDns", {"Other host names", "Weitere Hostnamen", "Autres noms d’hôte"}},
    {Txt::kFieldIp, "FieldIp", {"IP addresses", "IP-Adressen", "Adresses IP"}},
    {Txt::kFieldDepartment, "FieldDepartment", {"Department", "Abteilung", "Service"}},
    {Txt::kFieldAddressLine1,
     "FieldAddressLine1",
     {"Address line 1", "Adresszeile 1", "Adresse, ligne 1"}},
    {Txt::kFieldAddressLine2,
     "FieldAddressLine2",
     {"Address line 2", "Adresszeile 2", "Adresse, ligne 2"}},
    {Txt::kFieldPostalCode, "FieldPostalCode", {"Postal code", "Postleitzahl", "Code postal"}},
    {Txt::kFieldCity, "FieldCity", {"City", "Ort", "Ville"}},
    {Txt::kFieldCountry, "FieldCountry", {"Country", "Land", "Pays"}},
    {Txt::kActivationSubject,
     "ActivationSubject",
     {"Your certificate is ready to pick up", "Ihr Zertifikat liegt zur Abholung bereit",
      "Votre certificat est prêt à être retiré"}},
    {Txt::kActivationText,
     "ActivationText",
     {"Hello {name},\n\nyour certificate is ready. Pick it up here before {expiry}:\n\n{link}\n\n"
      "The link works once. {code_hint}\nIf you did not expect this message, ignore it.\n",
      "Hallo {name},\n\nIhr Zertifikat ist fertig. Holen Sie es hier vor {expiry} ab:\n\n"
      "{link}\n\nDer Link funktioniert einmal. {code_hint}\nWenn Sie diese Nachricht nicht "
      "erwartet haben, ignorieren Sie sie.\n",
      "Bonjour {name},\n\nvotre certificat est prêt. Retirez-le ici avant le {expiry} :\n\n"
      "{link}\n\nLe lien ne fonctionne qu’une fois. {code_hint}\nSi vous n’attendiez pas ce "
      "message, ignorez-le.\n"}},
    {Txt::kActivationHtml,
     "ActivationHtml",
     {"<!DOCTYPE html>\n<html lang=\"en\"><body>\n<p>Hello {name},</p>\n<p>your certificate is "
      "ready. Pick it up before {expiry}:</p>\n<p><a href=\"{link}\">{link}</a></p>\n<p>The "
      "link works once. {code_hint}</p>\n<p>If you did not expect this message, ignore "
      "it.</p>\n</body></html>\n",
      "<!DOCTYPE html>\n<html lang=\"de\"><body>\n<p>Hallo {name},</p>\n<p>Ihr Zertifikat ist "
      "fertig. Holen Sie es vor {expiry} ab:</p>\n<p><a href=\"{link}\">{link}</a></p>\n<p>Der "
      "Link funktioniert einmal. {code_hint}</p>\n<p>Wenn Sie diese Nachricht nicht erwartet "
      "haben, ignorieren Sie sie.</p>\n</body></html>\n",
      "<!DOCTYPE html>\n<html lang=\"fr\"><body>\n<p>Bonjour {name},</p>\n<p>votre certificat "
      "est prêt. Retirez-le avant le {expiry} :</p>\n<p><a href=\"{link}\">{link}</a></p>\n"
      "<p>Le lien ne fonctionne qu’une fois. {code_hint}</p>\n<p>Si vous n’attendiez pas ce "
      "message, ignorez-le.</p>\n</body></html>\n"}},
    {Txt::kCodeHintLetter,
     "CodeHintLetter",
     {"You also need the activation code from the letter we send you by post.",
      "Sie brauchen außerdem den Aktivierungscode aus dem Brief, den wir Ihnen per Post senden.",
      "Il vous faut aussi le code d’activation de la lettre que nous vous envoyons par la "
      "poste."}},
    {Txt::kCodeHintOperator,
     "CodeHintOperator",
     {"You also need the activation code your administrator gives you.",
      "Sie brauchen außerdem den Aktivierungscode, den Ihnen Ihre Administration gibt.",
      "Il vous faut aussi le code d’activation que votre administrateur vous remet."}},
    {Txt::kInvitationSubject,
     "InvitationSubject",
     {"You are invited to apply for a certificate", "Einladung zum Antrag auf ein Zertifikat",
      "Invitation à demander un certificat"}},
    {Txt::kInvitationText,
     "InvitationText",
     {"Hello {name},\n\nyou are invited to apply for a certificate. Fill in the application "
      "form here before {expiry}:\n\n{link}\n\nAn administrator reviews your application; "
      "once your certificate is issued you will get another email telling you how to collect "
      "it. The link works for one application.\n\nIf you did not expect this message, ignore "
      "it.\n",
      "Hallo {name},\n\nSie sind eingeladen, ein Zertifikat zu beantragen. Füllen Sie das "
      "Antragsformular hier vor {expiry} aus:\n\n{link}\n\nDie Administration prüft Ihren "
      "Antrag; sobald Ihr Zertifikat ausgestellt ist, erhalten Sie eine weitere E-Mail, die "
      "Ihnen sagt, wie Sie es abholen. Der Link gilt für einen Antrag.\n\nWenn Sie diese "
      "Nachricht nicht erwartet haben, ignorieren Sie sie.\n",
      "Bonjour {name},\n\nvous êtes invité(e) à demander un certificat. Remplissez le "
      "formulaire de demande ici avant le {expiry} :\n\n{link}\n\nUn administrateur examine "
      "votre demande ; une fois votre certificat émis, vous recevrez un autre e-mail indiquant "
      "comment le retirer. Le lien vaut pour une seule demande.\n\nSi vous n’attendiez pas ce "
      "message, ignorez-le.\n"}},
    {Txt::kInvitationHtml,
     "InvitationHtml",
     {"<!DOCTYPE html>\n<html lang=\"en\"><body>\n<p>Hello {name},</p>\n<p>you are invited to "
      "apply for a certificate. Fill in the application form before {expiry}:</p>\n<p><a "
      "href=\"{link}\">{link}</a></p>\n<p>An administrator reviews your application; once "
      "your certificate is issued you will get another email telling you how to collect it. "
      "The link works for one application.</p>\n<p>If you did not expect this message, ignore "
      "it.</p>\n</body></html>\n",
      "<!DOCTYPE html>\n<html lang=\"de\"><body>\n<p>Hallo {name},</p>\n<p>Sie sind "
      "eingeladen, ein Zertifikat zu beantragen. Füllen Sie das Antragsformular vor {expiry} "
      "aus:</p>\n<p><a href=\"{link}\">{link}</a></p>\n<p>Die Administration prüft Ihren "
      "Antrag; sobald Ihr Zertifikat ausgestellt ist, erhalten Sie eine weitere E-Mail, die "
      "Ihnen sagt, wie Sie es abholen. Der Link gilt für einen Antrag.</p>\n<p>Wenn Sie diese "
      "Nachricht nicht erwartet haben, ignorieren Sie sie.</p>\n</body></html>\n",
      "<!DOCTYPE html>\n<html lang=\"fr\"><body>\n<p>Bonjour {name},</p>\n<p>vous êtes "
      "invité(e) à demander un certificat. Remplissez le formulaire de demande avant le "
      "{expiry} :</p>\n<p><a href=\"{link}\">{link}</a></p>\n<p>Un administrateur examine "
      "votre demande ; une fois votre certificat émis, vous recevrez un autre e-mail indiquant "
      "comment le retirer. Le lien vaut pour une seule demande.</p>\n<p>Si vous n’attendiez "
      "pas ce message, ignorez-le.</p>\n</body></html>\n"}},
};

// Row i of the table is text i: T indexes it directly. The unit test checks every row.
static_assert(std::size(kTable) == static_cast<size_t>(Txt::kCount_),
              "texts.cc: one row per Txt, in the order of the enum");

}  // namespace

std::optional<Lang> ParseLang(std::string_view tag) {
  for (Lang l : kLangs) {
    if (LangTag(l) == tag) return l;
  }
  return std::nullopt;
}

std::string_view LangTag(Lang lang) {
  switch (lang) {
    case Lang::kEn:
      return "en";
    case Lang::kDe:
      return "de";
    case Lang::kFr:
      return "fr";
  }
  return "en";
}

std::string_view T(Lang lang, Txt id) {
  const size_t row = static_cast<size_t>(id);
  if (row >= std::size(kTable)) return "";
  return kTable[row].text[static_cast<size_t>(lang)];
}

std::string_view TxtName(Txt id) {
  const size_t row = static_cast<size_t>(id);
  return row < std::size(kTable) ? kTable[row].name : "";
}

Txt TxtOfRow(size_t row) {
  return kTable[row].id;
}

std::string Fill(std::string_view text,
                 const std::vector<std::pair<std::string_view, std::string>>& values) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      const size_t close = text.find('}', i);
      if (close != std::string_view::npos) {
        const std::string_view key = text.substr(i + 1, close - i - 1);
        bool done = false;
        for (const auto& [k, v] : values) {
          if (k == key) {
            out += v;
            done = true;
            break;
          }
        }
        if (done) {
          i = close + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

std::vector<std::string> Placeholders(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while ((i = text.find('{', i)) != std::string_view::npos) {
    const size_t close = text.find('}', i);
    if (close == std::string_view::npos) break;
    out.emplace_back(text.substr(i + 1, close - i - 1));
    i = close + 1;
  }
  return out;
}

}  // namespace certpress
