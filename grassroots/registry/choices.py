from django.db import models
from django.utils.translation import gettext_lazy as _


class BuildingKind(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential block")
    COURTYARD = "courtyard", _("Courtyard / bungalows")
    VILLA = "villa", _("Detached house")
    SHOP = "shop", _("Shop front")
    OFFICE = "office", _("Office building")
    MIXED = "mixed", _("Mixed use")
    OTHER = "other", _("Other")


class HouseholdStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    MOVED_OUT = "moved_out", _("Moved out")
    DISSOLVED = "dissolved", _("Dissolved")


class Relation(models.TextChoices):
    """Relation to the head of household, as the household register records it."""

    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    CHILD_IN_LAW = "child_in_law", _("Son/daughter-in-law")
    PARENT = "parent", _("Parent")
    PARENT_IN_LAW = "parent_in_law", _("Parent-in-law")
    GRANDCHILD = "grandchild", _("Grandchild")
    GRANDPARENT = "grandparent", _("Grandparent")
    SIBLING = "sibling", _("Sibling")
    OTHER_RELATIVE = "relative", _("Other relative")
    NON_RELATIVE = "non_relative", _("Not related")


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Registration(models.TextChoices):
    """户籍 status: registered here, floating (registered elsewhere, living here), or registered
    here but living elsewhere (人户分离)."""

    REGISTERED = "registered", _("Registered resident")
    FLOATING = "floating", _("Floating population")
    AWAY = "away", _("Registered but living away")


class ResidentStatus(models.TextChoices):
    ACTIVE = "active", _("Living here")
    MOVED_OUT = "moved_out", _("Moved out")
    DECEASED = "deceased", _("Deceased")


class CareGroup(models.TextChoices):
    """重点人群·关爱对象 (sensitive)."""

    ELDERLY_ALONE = "elderly_alone", _("Elderly living alone")
    ELDERLY_EMPTY_NEST = "empty_nest", _("Empty-nest elderly")
    DISABLED = "disabled", _("Disabled")
    LEFT_BEHIND_CHILD = "left_behind_child", _("Left-behind child")
    LOW_INCOME = "low_income", _("Low-income (dibao)")
    VETERAN = "veteran", _("Veteran")
    SERIOUS_ILLNESS = "serious_illness", _("Serious illness")
    MENTAL_ILLNESS = "mental_illness", _("Severe mental illness")


class EventKind(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    BIRTH = "birth", _("Birth")
    MOVE_IN = "move_in", _("Moved in")
    TRANSFER = "transfer", _("Moved to another household")
    MOVE_OUT = "move_out", _("Moved out")
    DEATH = "death", _("Death")
    CHANGE = "change", _("Details changed")
    CARE_ADDED = "care_added", _("Care group added")
    CARE_REMOVED = "care_removed", _("Care group removed")


class OrganisationKind(models.TextChoices):
    BUSINESS = "business", _("Business")
    SHOP = "shop", _("Shop")
    SCHOOL = "school", _("School / kindergarten")
    HEALTH = "health", _("Clinic / hospital")
    GOVERNMENT = "government", _("Government body")
    SOCIAL = "social", _("Social organisation")
    PROPERTY = "property", _("Property management company")
    OTHER = "other", _("Other")


ETHNICITIES = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
]
