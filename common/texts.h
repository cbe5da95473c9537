// texts.h: the one table of fixed texts that people read outside the command line: the web
// pages (pickup, application form, error pages) and the default activation and invitation
// mails, in each language a profile may name (en, de, fr). Pages and mails take every fixed
// text from here, never a copy of their own, so a new language is one column of the table.
//
// A text may hold {placeholders}; every language of a text has the same ones (a unit test
// checks it), filled with Fill (values as given: escaping for HTML is the caller's, as it
// knows the context) or, for the mail templates, by profiles::RenderTemplate.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certpress {

enum class Lang { kEn, kDe, kFr };
inline constexpr Lang kLangs[] = {Lang::kEn, Lang::kDe, Lang::kFr};

// ParseLang reads a language tag ("en", "de", "fr"); nullopt for any other.
std::optional<Lang> ParseLang(std::string_view tag);
// LangTag is the BCP 47 tag of |lang|, for <html lang>.
std::string_view LangTag(Lang lang);
// The tags a configuration may name, for messages: "en, de or fr".
inline constexpr std::string_view kLangChoices = "en, de or fr";

// Txt names each text. Keep the order of the table in texts.cc (a unit test checks it).
enum class Txt {
  // Page frame and forms.
  kOptional,
  kCorrectTheFollowing,
  // Error pages.
  kTryLaterTitle,
  kTryLaterBody,
  kInvalidLinkTitle,
  kInvalidLinkBody,
  kTooManyTitle,
  kTooManyBody,
  kMethodTitle,
  kMethodBody,
  kBadRequestTitle,
  kBadRequestBody,
  kFormUnreadable,
  kNotFoundTitle,
  kNotFoundBody,
  kIndexTitle,
  kIndexBody,
  // Pickup.
  kPickupTitle,
  kCodeLabel,
  kCodeHint,
  kPasswordLabel,
  kPasswordHint,
  kPassword2Label,
  kHandsOutCertOf,
  kHolderName,
  kHolderEmail,
  kLinkValidUntil,
  kCsrNotice,
  kPkcs12Notice,
  kShowCert,
  kCertReadyTitle,
  kCertReadyBody,
  kDownloadPem,
  kDownloadDer,
  kPemBelow,
  kDownloadPkcs12,
  kFormExpiredFillAgain,
  kEnterCode,
  kPasswordTooShort,
  kPasswordTooLong,
  kPasswordControl,
  kPasswordsDiffer,
  kWrongCode,
  // Application form.
  kApplyTitle,
  kInvitedTo,
  kReviewNotice,
  kSubmitApplication,
  kFormExpiredSubmitAgain,
  kCsrLabel,
  kCsrHint,
  kCsrFileLabel,
  kCsrFileHint,
  kCsrOneOfBoth,
  kCsrMissing,
  kCsrRefused,
  kReceivedTitle,
  kReceivedBody,
  kHintEmail,
  kHintDns,
  kHintDnsList,
  kHintIpList,
  kHintPattern,
  kHintFromCsr,
  kHintFromInvitation,
  // The request builder's field problems (ra::FieldProblem::Kind), as the form shows them.
  kErrRequired,
  kErrTooLong,
  kErrSpaces,
  kErrNotEmail,
  kErrNotDns,
  kErrNotIp,
  kErrPattern,
  kErrFixedByInvitation,
  // Labels of the fields the shipped profiles use (others are made from the field's name).
  kFieldGivenName,
  kFieldSurname,
  kFieldName,
  kFieldEmail,
  kFieldEmployeeId,
  kFieldCn,
  kFieldDns,
  kFieldIp,
  kFieldDepartment,
  kFieldAddressLine1,
  kFieldAddressLine2,
  kFieldPostalCode,
  kFieldCity,
  kFieldCountry,
  // The activation mail's defaults (templates over {name}, {link}, {expiry}; {code_hint} is
  // one of the two hints, or nothing).
  kActivationSubject,
  kActivationText,
  kActivationHtml,
  kCodeHintLetter,
  kCodeHintOperator,
  // The invitation mail (templates over {name}, {link}, {expiry}).
  kInvitationSubject,
  kInvitationText,
  kInvitationHtml,
  kCount_,
};

// T returns text |id| in |lang|.
std::string_view T(Lang lang, Txt id);

// Fill returns |text| with each {key} of |values| replaced by its value; other braces stay.
std::string Fill(std::string_view text,
                 const std::vector<std::pair<std::string_view, std::string>>& values);

// Placeholders lists the {names} in |text| in order (for the table's unit test).
std::vector<std::string> Placeholders(std::string_view text);

// TxtOfRow is the id written in row |row| of the table: the unit test checks that row i is
// text i (T indexes the table by id). |row| < Txt::kCount_.
Txt TxtOfRow(size_t row);

// TxtName is the enumerator's name without its k ("PickupTitle"), for test messages.
std::string_view TxtName(Txt id);

}  // namespace certpress
