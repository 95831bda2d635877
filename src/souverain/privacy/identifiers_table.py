"""The personal identifiers of the 27 member states: one row per format, validated by python-stdnum
where it has the module and by `privacy.checksums` where it has not."""

from __future__ import annotations

import re

from stdnum.at import tin as at_tin
from stdnum.at import vnr as at_vnr
from stdnum.be import bis as be_bis
from stdnum.be import nn as be_nn
from stdnum.bg import egn as bg_egn
from stdnum.bg import pnf as bg_pnf
from stdnum.cy import vat as cy_vat
from stdnum.cz import rc as cz_rc
from stdnum.de import idnr as de_idnr
from stdnum.de import stnr as de_stnr
from stdnum.dk import cpr as dk_cpr
from stdnum.ee import ik as ee_ik
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.fi import hetu as fi_hetu
from stdnum.fi import veronumero as fi_veronumero
from stdnum.fr import nif as fr_nif
from stdnum.fr import nir as fr_nir
from stdnum.gr import amka as gr_amka
from stdnum.gr import vat as gr_vat
from stdnum.hr import oib as hr_oib
from stdnum.ie import pps as ie_pps
from stdnum.it import codicefiscale as it_codicefiscale
from stdnum.lt import asmens as lt_asmens
from stdnum.lv import pvn as lv_pvn
from stdnum.nl import bsn as nl_bsn
from stdnum.pl import nip as pl_nip
from stdnum.pl import pesel as pl_pesel
from stdnum.pt import cc as pt_cc
from stdnum.pt import nif as pt_nif
from stdnum.ro import cnp as ro_cnp
from stdnum.se import personnummer as se_personnummer
from stdnum.si import ddv as si_ddv
from stdnum.si import emso as si_emso
from stdnum.sk import rc as sk_rc

from souverain.privacy import checksums
from souverain.privacy.entities import EntityType
from souverain.privacy.formats import IdentifierFormat, Strength, digits

NATIONAL = EntityType.NATIONAL_ID
TAX = EntityType.TAX_ID
SOCIAL = EntityType.SOCIAL_SECURITY
STRONG, MEDIUM, WEAK = Strength.STRONG, Strength.MEDIUM, Strength.WEAK
CONTEXT_ONLY = Strength.CONTEXT_ONLY


def _row(
    subtype: str,
    entity_type: EntityType,
    module_or_check: object,
    lengths: tuple[int, ...],
    shape: str | re.Pattern[str],
    strength: Strength,
    written: str | None = None,
    keeps_dash: bool = False,
) -> IdentifierFormat:
    validate = getattr(module_or_check, "is_valid", module_or_check)
    assert callable(validate)
    return IdentifierFormat(
        subtype=subtype,
        type=entity_type,
        validate=validate,
        lengths=lengths,
        shape=re.compile(shape) if isinstance(shape, str) else shape,
        strength=strength,
        written=re.compile(written) if written else None,
        keeps_dash=keeps_dash,
    )


# Order breaks ties between formats that accept the same number with the same score: the first wins.
# Strength follows the checks each format has: see `Strength`.
IDENTIFIER_FORMATS: tuple[IdentifierFormat, ...] = (
    # Austria
    _row("at.tin", TAX, at_tin, (9,), digits(9), WEAK, written=r"\d{2}-\d{3}/\d{4}"),
    _row("at.vnr", SOCIAL, at_vnr, (10,), digits(10), MEDIUM, written=r"\d{4} \d{6}"),
    # Belgium: the national register number, and the bis number of those not in the register
    _row("be.nn", NATIONAL, be_nn, (11,), digits(11), STRONG),
    _row("be.bis", NATIONAL, be_bis, (11,), digits(11), STRONG),
    # Bulgaria: citizens' EGN, foreigners' PNF
    _row("bg.egn", NATIONAL, bg_egn, (10,), digits(10), MEDIUM),
    _row("bg.pnf", NATIONAL, bg_pnf, (10,), digits(10), WEAK),
    # Cyprus: the tax identification code (the VAT number's algorithm), the identity card
    _row("cy.vat", TAX, cy_vat, (9,), r"[0159]\d{7}[A-Z]", STRONG),
    _row("cy.identity_card", NATIONAL, checksums.cy_identity_card, (6, 7, 8, 9, 10), r"\d+", CONTEXT_ONLY),
    # Czechia and Slovakia share the birth number; 9-digit ones (before 1954) have no check digit
    _row("cz.rc", NATIONAL, cz_rc, (10,), digits(10), MEDIUM, written=r"\d{6}/\d{4}"),
    _row("sk.rc", NATIONAL, sk_rc, (10,), digits(10), MEDIUM, written=r"\d{6}/\d{4}"),
    # Germany: the tax identification number, the (regional) tax number
    _row("de.idnr", TAX, de_idnr, (11,), r"[1-9]\d{10}", MEDIUM),
    _row("de.stnr", TAX, de_stnr, (10, 11, 12, 13), r"\d+", WEAK, written=r"\d{2,3}/\d{3,4}/\d{4,5}"),
    # Denmark: the CPR number has a date but no check digit since 2007: always needs a context word
    _row("dk.cpr", NATIONAL, dk_cpr, (10,), digits(10), WEAK),
    # Estonia
    _row("ee.ik", NATIONAL, ee_ik, (11,), r"[1-6]\d{10}", STRONG),
    # Spain: DNI for nationals, NIE for foreigners (both are also the personal tax number)
    _row("es.dni", NATIONAL, es_dni, (9,), r"\d{8}[A-Z]", STRONG),
    _row("es.nie", NATIONAL, es_nie, (9,), r"[XYZ]\d{7}[A-Z]", STRONG),
    # Finland: the personal identity code, whose dash or letter is the century; the tax number
    _row("fi.hetu", NATIONAL, fi_hetu, (10, 11), r"\d{6}[A-Z]?\d{3}[0-9A-Z]", STRONG, keeps_dash=True),
    _row("fi.veronumero", TAX, fi_veronumero, (12,), digits(12), WEAK),
    # France: the social security number (NIR), the tax number (numéro fiscal)
    _row("fr.nir", SOCIAL, fr_nir, (15,), r"[12]\d{4}(?:\d\d|2A|2B)\d{8}", STRONG),
    _row("fr.nif", TAX, fr_nif, (13,), r"[0-3]\d{12}", MEDIUM),
    # Greece: the social security number AMKA (date and Luhn), the tax number AFM
    _row("gr.amka", SOCIAL, gr_amka, (11,), digits(11), STRONG),
    _row("gr.vat", TAX, gr_vat, (9,), digits(9), WEAK),
    # Croatia: the OIB, a personal identification and tax number, has a check but no date
    _row("hr.oib", NATIONAL, hr_oib, (11,), digits(11), WEAK),
    # Hungary: none in python-stdnum; see `checksums`
    _row("hu.personal_id", NATIONAL, checksums.hu_personal_id, (11,), r"[1-8]\d{10}", STRONG),
    _row("hu.tax_id", TAX, checksums.hu_tax_id, (10,), r"8\d{9}", WEAK),
    _row("hu.taj", SOCIAL, checksums.hu_taj, (9,), digits(9), WEAK, written=r"\d{3} \d{3} \d{3}"),
    # Ireland: the personal public service number
    _row("ie.pps", NATIONAL, ie_pps, (8, 9), r"\d{7}[A-W][A-Z]?", STRONG),
    # Italy: the fiscal code
    _row(
        "it.codicefiscale",
        TAX,
        it_codicefiscale,
        (16,),
        r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9A-Z]{7}",
        STRONG,
    ),
    # Lithuania
    _row("lt.asmens", NATIONAL, lt_asmens, (11,), r"[1-6]\d{10}", STRONG),
    # Luxembourg: none in python-stdnum; see `checksums`
    _row("lu.national_id", NATIONAL, checksums.lu_national_id, (13,), digits(13), STRONG),
    # Latvia: personal codes start with 0-3 (companies' numbers, also in lv.pvn, with 4-9)
    _row("lv.pvn", NATIONAL, lv_pvn, (11,), r"[0-3]\d{10}", STRONG, keeps_dash=True),
    # Malta: the identity card has no published check digit
    _row(
        "mt.identity_card",
        NATIONAL,
        checksums.mt_identity_card,
        tuple(range(2, 9)),
        r"\d+[A-Z]",
        CONTEXT_ONLY,
    ),
    # Netherlands: the citizen service number
    _row("nl.bsn", NATIONAL, nl_bsn, (9,), digits(9), WEAK, written=r"\d{4}\.\d{2}\.\d{3}"),
    # Poland: PESEL (date and check), the tax number NIP
    _row("pl.pesel", NATIONAL, pl_pesel, (11,), digits(11), STRONG),
    _row("pl.nip", TAX, pl_nip, (10,), digits(10), WEAK, written=r"\d{3}-\d{3}-\d{2}-\d{2}"),
    # Portugal: the citizen card number, the tax number NIF
    _row("pt.cc", NATIONAL, pt_cc, (12,), r"\d{9}[A-Z0-9]{2}\d", STRONG),
    _row("pt.nif", TAX, pt_nif, (9,), r"[1-35]\d{8}", WEAK),
    # Romania
    _row("ro.cnp", NATIONAL, ro_cnp, (13,), r"[1-9]\d{12}", STRONG),
    # Sweden: the dash (plus past 100 years of age) separates date and serial
    _row(
        "se.personnummer",
        NATIONAL,
        se_personnummer,
        (10, 12),
        digits(10, 12),
        MEDIUM,
        r"\d{6,8}[-+]\d{4}",
        True,
    ),
    # Slovenia: EMŠO (date and check), the tax number
    _row("si.emso", NATIONAL, si_emso, (13,), digits(13), STRONG),
    _row("si.ddv", TAX, si_ddv, (8,), r"[1-9]\d{7}", WEAK),
)
