"""The default catalogue: the kinds of cases a Chinese city handles, and who handles them in Yangquan.

Categories (Open311 services) come in groups, each with the lowest level able to handle it (小事不出村:
most at the community, some at the street, a few at the district), its time limits, whether it is shown
on the public list and map, and the extra questions it asks (Open311 attributes).

Units are generated for every node of the city, set-based: each community's own 处置组 (its
residents' committee team), three teams per street or town (law enforcement, the comprehensive
governance centre, social affairs), four departments per district or county and four at the city.
Each unit is linked to the categories it handles.

Loading is idempotent: what exists is left alone (an administrator's edits survive), what is missing is
added. ``reset=True`` puts existing categories, their attributes and the default units' links back to
the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction

from grassroots.areas.choices import Level
from grassroots.areas.models import Area
from grassroots.areas.yangquan import CITY_CODE

from .choices import AttributeType, LimitUnit
from .models import Category, CategoryAttribute, Unit

A = AttributeType
HOURS, DAYS = LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS


def _values(*names: str) -> list[dict[str, str]]:
    """List values keyed by their position (stable across renames of the Chinese text)."""
    return [{"key": f"v{index}", "name": name} for index, name in enumerate(names, start=1)]


def _attr(code, datatype, description, *, hint="", required=False, values=()) -> dict:
    return {
        "code": code,
        "datatype": datatype,
        "description": description,
        "datatype_description": hint,
        "required": required,
        "values": _values(*values),
    }


# Unit kinds: where a unit sits and what it is called there ({name}: the node's display name).
COMMUNITY_TEAM = "community_team"
STREET_ENFORCEMENT = "street_enforcement"
STREET_GOVERNANCE = "street_governance"
STREET_SOCIAL = "street_social"
DISTRICT_URBAN = "district_urban"
DISTRICT_MARKET = "district_market"
DISTRICT_HOUSING = "district_housing"
DISTRICT_FIRE = "district_fire"
CITY_URBAN = "city_urban"
CITY_MARKET = "city_market"
CITY_HOUSING = "city_housing"
CITY_EMERGENCY = "city_emergency"


@dataclass(frozen=True)
class UnitKind:
    level: int
    pattern: str  # formatted with the node's name


UNIT_KINDS: dict[str, UnitKind] = {
    COMMUNITY_TEAM: UnitKind(Level.COMMUNITY, "{name}处置组"),
    STREET_ENFORCEMENT: UnitKind(Level.STREET, "{name}综合行政执法队"),
    STREET_GOVERNANCE: UnitKind(Level.STREET, "{name}综治中心"),
    STREET_SOCIAL: UnitKind(Level.STREET, "{name}社会事务办"),
    DISTRICT_URBAN: UnitKind(Level.DISTRICT, "{name}城市管理局"),
    DISTRICT_MARKET: UnitKind(Level.DISTRICT, "{name}市场监督管理局"),
    DISTRICT_HOUSING: UnitKind(Level.DISTRICT, "{name}住房和城乡建设局"),
    DISTRICT_FIRE: UnitKind(Level.DISTRICT, "{name}消防救援大队"),
    CITY_URBAN: UnitKind(Level.CITY, "{name}城市管理局"),
    CITY_MARKET: UnitKind(Level.CITY, "{name}市场监督管理局"),
    CITY_HOUSING: UnitKind(Level.CITY, "{name}住房和城乡建设局"),
    CITY_EMERGENCY: UnitKind(Level.CITY, "{name}应急管理局"),
}


@dataclass(frozen=True)
class Spec:
    code: str
    name: str
    name_en: str
    group: str
    description: str
    keywords: str = ""
    level: int = Level.COMMUNITY
    limit_unit: str = DAYS
    handle: int = 5
    accept: int = 4
    dispatch: int = 4
    verify: int = 16
    close: int = 16
    public: bool = False
    attributes: tuple[dict, ...] = ()
    units: tuple[str, ...] = field(default=(COMMUNITY_TEAM,))

    def fields(self, order: int) -> dict[str, object]:
        return {
            "name": self.name,
            "name_en": self.name_en,
            "group": self.group,
            "description": self.description,
            "keywords": self.keywords,
            "handling_level": self.level,
            "limit_unit": self.limit_unit,
            "handle_limit": self.handle,
            "accept_hours": self.accept,
            "dispatch_hours": self.dispatch,
            "verify_hours": self.verify,
            "close_hours": self.close,
            "is_public": self.public,
            "active": True,
            "order": order,
        }


FOUND_AT = _attr("found_at", A.DATETIME, "发现时间", hint="大概什么时候发现的")
AFFECTED = _attr("affected_people", A.NUMBER, "影响人数", hint="大约多少人受影响")

CATALOGUE: tuple[Spec, ...] = (
    # 环境卫生 -------------------------------------------------------------------------------------
    Spec(
        "garbage",
        "垃圾堆放清运",
        "Uncollected rubbish",
        "环境卫生",
        "生活垃圾、建筑垃圾、大件垃圾乱堆乱放或清运不及时。",
        "垃圾 清运 垃圾桶 满溢",
        handle=2,
        public=True,
        attributes=(
            _attr(
                "waste_kind",
                A.SINGLE,
                "垃圾类型",
                required=True,
                values=("生活垃圾", "建筑垃圾", "大件垃圾", "其他"),
            ),
            _attr("area_m2", A.NUMBER, "堆放面积（平方米）", hint="估算即可"),
        ),
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    Spec(
        "sewage",
        "污水外溢",
        "Sewage overflow",
        "环境卫生",
        "化粪池、污水井冒溢，下水道堵塞返水。",
        "污水 下水道 堵塞 返水 化粪池",
        handle=8,
        limit_unit=HOURS,
        accept=2,
        dispatch=2,
        public=True,
        attributes=(FOUND_AT,),
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    Spec(
        "public-toilet",
        "公厕卫生",
        "Public toilet",
        "环境卫生",
        "公共厕所脏乱、设施损坏、无人管理。",
        "公厕 厕所",
        handle=3,
        public=True,
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    Spec(
        "dead-animal",
        "动物尸体",
        "Dead animal",
        "环境卫生",
        "道路、小区内的动物尸体需要清理。",
        "死猫 死狗 动物尸体",
        handle=8,
        limit_unit=HOURS,
        accept=2,
        dispatch=2,
        public=True,
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    # 公共安全 -------------------------------------------------------------------------------------
    Spec(
        "fire-hazard",
        "消防安全隐患",
        "Fire hazard",
        "公共安全",
        "消防通道堵塞、楼道堆物、电动车入户充电、消防设施损坏。",
        "消防 通道 电动车 充电 灭火器",
        handle=2,
        accept=2,
        dispatch=2,
        attributes=(
            _attr(
                "hazard_kind",
                A.MULTI,
                "隐患类型",
                required=True,
                values=("消防通道堵塞", "楼道堆放杂物", "电动车入户充电", "消防设施损坏", "其他"),
            ),
            _attr("building_no", A.STRING, "涉及楼栋", hint="如 3号楼2单元"),
        ),
        units=(COMMUNITY_TEAM, DISTRICT_FIRE),
    ),
    Spec(
        "gas-safety",
        "燃气安全隐患",
        "Gas safety hazard",
        "公共安全",
        "燃气泄漏气味、燃气管道或表具损坏、违规使用液化气。闻到燃气味请先撤离并拨打抢修电话。",
        "燃气 煤气 液化气 泄漏",
        level=Level.DISTRICT,
        handle=4,
        limit_unit=HOURS,
        accept=1,
        dispatch=1,
        verify=8,
        close=8,
        attributes=(FOUND_AT,),
        units=(DISTRICT_HOUSING, CITY_HOUSING, CITY_EMERGENCY),
    ),
    Spec(
        "unsafe-building",
        "房屋安全隐患",
        "Unsafe building",
        "公共安全",
        "房屋墙体开裂、倾斜、外墙脱落等危及安全的情况。",
        "危房 裂缝 倾斜 外墙 脱落",
        level=Level.STREET,
        handle=3,
        attributes=(
            _attr("damage", A.SINGLE, "损坏程度", required=True, values=("轻微", "较重", "严重，有坍塌危险")),
            _attr("details", A.TEXT, "详细说明", hint="裂缝位置、长度，是否有人居住"),
        ),
        units=(STREET_ENFORCEMENT, DISTRICT_HOUSING),
    ),
    Spec(
        "public-order",
        "治安隐患",
        "Public order concern",
        "公共安全",
        "可疑人员、聚众滋事、小区门禁或监控损坏等治安隐患。紧急情况请拨打110。",
        "治安 可疑 监控 门禁",
        level=Level.STREET,
        handle=3,
        accept=2,
        units=(STREET_GOVERNANCE,),
    ),
    # 道路设施 -------------------------------------------------------------------------------------
    Spec(
        "streetlight",
        "路灯损坏",
        "Broken streetlight",
        "道路设施",
        "路灯不亮、闪烁、白天常亮或灯杆损坏。",
        "路灯 灯杆 不亮",
        handle=3,
        public=True,
        attributes=(
            _attr("pole_number", A.STRING, "路灯编号", hint="灯杆上喷涂的编号，没有可不填"),
            _attr(
                "fault",
                A.SINGLE,
                "故障情况",
                required=True,
                values=("不亮", "闪烁", "白天常亮", "灯杆倾斜或损坏", "线路外露"),
            ),
        ),
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    Spec(
        "pothole",
        "道路坑洼",
        "Pothole",
        "道路设施",
        "路面坑洼、塌陷、破损。",
        "坑 塌陷 路面",
        handle=5,
        public=True,
        attributes=(
            _attr("damage", A.SINGLE, "损坏程度", required=True, values=("轻微", "中等", "严重，影响通行")),
            _attr("size_m2", A.NUMBER, "坑洼面积（平方米）", hint="估算即可"),
            FOUND_AT,
        ),
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    Spec(
        "manhole",
        "井盖缺失破损",
        "Missing or broken manhole cover",
        "道路设施",
        "井盖丢失、破损、移位、异响，有行人车辆坠落风险。",
        "井盖 窨井",
        handle=8,
        limit_unit=HOURS,
        accept=1,
        dispatch=1,
        public=True,
        attributes=(
            _attr(
                "cover_kind", A.SINGLE, "井盖类型", values=("雨水", "污水", "电力", "通信", "燃气", "不清楚")
            ),
        ),
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    Spec(
        "public-facility",
        "公共设施损坏",
        "Damaged public facility",
        "道路设施",
        "交通标志、护栏、公交站亭、健身器材、座椅等公共设施损坏。",
        "护栏 标志 健身器材 站亭",
        handle=5,
        public=True,
        attributes=(
            _attr(
                "facilities",
                A.MULTI,
                "涉及设施",
                required=True,
                values=("交通标志", "护栏", "公交站亭", "健身器材", "座椅", "其他"),
            ),
            AFFECTED,
        ),
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    # 物业管理 -------------------------------------------------------------------------------------
    Spec(
        "property-service",
        "物业服务问题",
        "Property management service",
        "物业管理",
        "物业不作为、服务质量差、收费不合理，或无物业小区的管理问题。",
        "物业 收费 保洁 保安",
        handle=5,
        units=(COMMUNITY_TEAM, DISTRICT_HOUSING),
    ),
    Spec(
        "lift",
        "电梯故障",
        "Lift out of order",
        "物业管理",
        "电梯停运、异响、关人。有人被困请立即拨打电梯内的救援电话或96333。",
        "电梯 困人 停运",
        handle=2,
        accept=1,
        dispatch=1,
        attributes=(
            _attr("lift_location", A.STRING, "电梯位置", required=True, hint="如 5号楼1单元"),
            _attr("trapped", A.SINGLE, "是否有人被困", required=True, values=("是", "否")),
        ),
        units=(COMMUNITY_TEAM, DISTRICT_HOUSING),
    ),
    Spec(
        "water-heating",
        "供水供暖问题",
        "Water or heating supply",
        "物业管理",
        "停水、水压低、暖气不热、管道漏水。",
        "停水 水压 暖气 供暖 漏水",
        level=Level.DISTRICT,
        handle=3,
        accept=2,
        dispatch=2,
        public=True,
        attributes=(
            _attr(
                "problem",
                A.SINGLE,
                "问题类型",
                required=True,
                values=("停水", "水压低", "暖气不热", "管道漏水"),
            ),
            _attr("households", A.NUMBER, "影响户数"),
        ),
        units=(DISTRICT_HOUSING, CITY_HOUSING),
    ),
    # 邻里纠纷 -------------------------------------------------------------------------------------
    Spec(
        "noise",
        "噪音扰民",
        "Noise nuisance",
        "邻里纠纷",
        "装修、商铺、广场舞、宠物等噪音影响休息。",
        "噪音 装修 广场舞 扰民",
        handle=3,
        attributes=(
            _attr(
                "source",
                A.SINGLE,
                "噪音来源",
                required=True,
                values=("装修", "商铺", "广场舞", "宠物", "其他"),
            ),
            _attr("period", A.STRING, "发生时段", hint="如 每晚 22:00 以后"),
        ),
        units=(COMMUNITY_TEAM, STREET_ENFORCEMENT),
    ),
    Spec(
        "neighbour-dispute",
        "邻里纠纷",
        "Dispute between neighbours",
        "邻里纠纷",
        "楼上漏水、占用公共空间、宠物、通行等邻里矛盾，需要社区调解。",
        "邻居 矛盾 漏水 调解",
        handle=5,
        attributes=(
            _attr(
                "dispute_kind", A.SINGLE, "纠纷类型", values=("漏水", "占用公共空间", "宠物", "通行", "其他")
            ),
            _attr("parties", A.NUMBER, "涉及户数"),
        ),
        units=(COMMUNITY_TEAM, STREET_GOVERNANCE),
    ),
    Spec(
        "family-dispute",
        "婚姻家庭纠纷",
        "Marriage or family dispute",
        "邻里纠纷",
        "婚姻、赡养、抚养、继承等家庭矛盾。有人身危险请拨打110。",
        "家庭 婚姻 赡养 家暴",
        handle=3,
        accept=2,
        units=(COMMUNITY_TEAM, STREET_GOVERNANCE),
    ),
    # 社会救助 -------------------------------------------------------------------------------------
    Spec(
        "hardship",
        "困难群众求助",
        "Request for help in hardship",
        "社会救助",
        "生活困难、因病因灾致困，需要临时救助或帮扶。",
        "困难 救助 帮扶 临时救助",
        handle=5,
        attributes=(
            _attr(
                "help_kind",
                A.MULTI,
                "求助类型",
                required=True,
                values=("生活困难", "医疗", "住房", "就业", "其他"),
            ),
        ),
        units=(COMMUNITY_TEAM, STREET_SOCIAL),
    ),
    Spec(
        "elderly-care",
        "独居老人关爱",
        "Elderly person living alone needs help",
        "社会救助",
        "独居、空巢、失能老人需要探访、送餐或照料。",
        "老人 独居 空巢 探访",
        handle=2,
        accept=2,
        units=(COMMUNITY_TEAM, STREET_SOCIAL),
    ),
    Spec(
        "minimum-allowance",
        "低保特困申请",
        "Minimum living allowance",
        "社会救助",
        "最低生活保障、特困人员供养的咨询与申请。",
        "低保 特困 申请",
        level=Level.STREET,
        handle=10,
        units=(STREET_SOCIAL,),
    ),
    # 市场监管 -------------------------------------------------------------------------------------
    Spec(
        "food-safety",
        "食品安全",
        "Food safety",
        "市场监管",
        "过期变质食品、餐饮卫生差、无证经营食品、疑似食物中毒。",
        "食品 过期 变质 餐馆 中毒",
        level=Level.DISTRICT,
        handle=5,
        accept=2,
        dispatch=2,
        attributes=(
            _attr("business", A.STRING, "商户名称", required=True),
            _attr(
                "problem_kinds",
                A.MULTI,
                "问题类型",
                required=True,
                values=("过期变质", "卫生条件差", "无证经营", "疑似食物中毒", "其他"),
            ),
            _attr("bought_at", A.DATETIME, "购买或就餐时间"),
            AFFECTED,
        ),
        units=(DISTRICT_MARKET, CITY_MARKET),
    ),
    Spec(
        "pricing",
        "价格欺诈与缺斤短两",
        "Overcharging or short weight",
        "市场监管",
        "明码标价不实、乱收费、缺斤短两。",
        "价格 收费 缺斤短两 欺诈",
        level=Level.DISTRICT,
        handle=7,
        attributes=(_attr("business", A.STRING, "商户名称", required=True),),
        units=(DISTRICT_MARKET, CITY_MARKET),
    ),
    Spec(
        "unlicensed-business",
        "无证经营",
        "Unlicensed business",
        "市场监管",
        "无营业执照经营、黑作坊、违规经营场所。",
        "无证 黑作坊 执照",
        level=Level.STREET,
        handle=10,
        units=(STREET_ENFORCEMENT, DISTRICT_MARKET),
    ),
    # 城市管理 -------------------------------------------------------------------------------------
    Spec(
        "illegal-construction",
        "违章建筑",
        "Illegal construction",
        "城市管理",
        "私搭乱建、违规加层、占用绿地或公共空间建房。",
        "违建 私搭乱建 加层",
        level=Level.STREET,
        handle=10,
        attributes=(
            _attr(
                "build_kind",
                A.SINGLE,
                "违建类型",
                required=True,
                values=("私搭乱建", "违规加层", "占用绿地", "其他"),
            ),
            _attr("stage", A.SINGLE, "建设状态", values=("正在施工", "已建成")),
            _attr("size_m2", A.NUMBER, "面积（平方米）", hint="估算即可"),
        ),
        units=(STREET_ENFORCEMENT, DISTRICT_URBAN),
    ),
    Spec(
        "street-vending",
        "占道经营",
        "Street vending blocking the way",
        "城市管理",
        "占用人行道、车行道摆摊设点、店外经营。",
        "占道 摆摊 流动摊贩",
        level=Level.STREET,
        handle=2,
        public=True,
        units=(STREET_ENFORCEMENT, DISTRICT_URBAN),
    ),
    Spec(
        "fly-posting",
        "乱贴乱画",
        "Fly-posting and graffiti",
        "城市管理",
        "小广告、乱涂乱画、违规悬挂横幅。",
        "小广告 涂鸦 牛皮癣",
        handle=3,
        public=True,
        units=(COMMUNITY_TEAM, STREET_ENFORCEMENT),
    ),
    Spec(
        "abandoned-vehicle",
        "僵尸车",
        "Abandoned vehicle",
        "城市管理",
        "长期停放、无人使用、占用车位或通道的废弃车辆。",
        "僵尸车 废弃车辆",
        level=Level.STREET,
        handle=10,
        public=True,
        attributes=(_attr("plate", A.STRING, "车牌号", hint="没有车牌可不填"),),
        units=(STREET_ENFORCEMENT,),
    ),
    Spec(
        "greenery",
        "绿化损坏",
        "Damaged trees or green space",
        "城市管理",
        "树木倒伏、枝杈遮挡、绿地被毁或被占用。",
        "树 倒伏 绿地 修剪",
        handle=5,
        public=True,
        units=(COMMUNITY_TEAM, DISTRICT_URBAN),
    ),
    Spec(
        "other",
        "其他问题",
        "Other",
        "其他",
        "以上类别都不合适时选择此项，社区会转给合适的部门。",
        "其他",
        handle=5,
    ),
)


@dataclass
class CatalogueReport:
    categories_created: int = 0
    categories_reset: int = 0
    attributes_created: int = 0
    units_created: int = 0
    links_created: int = 0

    def __str__(self) -> str:
        return (
            f"{self.categories_created} categories created, {self.categories_reset} reset, "
            f"{self.attributes_created} attributes added; {self.units_created} units created, "
            f"{self.links_created} category links added."
        )


def unit_name(kind: str, area: Area) -> str:
    name = area.name if kind == COMMUNITY_TEAM else area.display_name
    return UNIT_KINDS[kind].pattern.format(name=name)[:80]


@transaction.atomic
def load_catalogue(city: str = CITY_CODE, *, reset: bool = False) -> CatalogueReport:
    """Create the default categories and the units of ``city``'s subtree. See the module docstring."""
    report = CatalogueReport()
    codes = [spec.code for spec in CATALOGUE]
    existing = {c.code: c for c in Category.objects.filter(code__in=codes)}
    new = [
        Category(code=spec.code, **spec.fields(order))
        for order, spec in enumerate(CATALOGUE, start=1)
        if spec.code not in existing
    ]
    Category.objects.bulk_create(new)
    report.categories_created = len(new)
    if reset and existing:
        for order, spec in enumerate(CATALOGUE, start=1):
            if spec.code in existing:
                category = existing[spec.code]
                for name, value in spec.fields(order).items():
                    setattr(category, name, value)
        Category.objects.bulk_update(existing.values(), list(CATALOGUE[0].fields(0)))
        report.categories_reset = len(existing)
    by_code = dict(Category.objects.filter(code__in=codes).values_list("code", "pk"))
    touched = set(by_code) if reset else {c.code for c in new}
    report.attributes_created = _attributes(by_code, touched, reset=reset)
    units_created, links_created = _units(city, by_code, reset=reset)
    report.units_created, report.links_created = units_created, links_created
    return report


def _attributes(by_code: dict[str, int], touched: set[str], *, reset: bool) -> int:
    specs = {spec.code: spec for spec in CATALOGUE}
    ids = [by_code[code] for code in touched]
    if reset:
        wanted = {(by_code[code], a["code"]) for code in touched for a in specs[code].attributes}
        stale = [
            pk
            for pk, category_id, code in CategoryAttribute.objects.filter(category_id__in=ids).values_list(
                "pk", "category_id", "code"
            )
            if (category_id, code) not in wanted
        ]
        CategoryAttribute.objects.filter(pk__in=stale).delete()
    have = {
        (category_id, code): pk
        for pk, category_id, code in CategoryAttribute.objects.filter(category_id__in=ids).values_list(
            "pk", "category_id", "code"
        )
    }
    rows = [
        CategoryAttribute(category_id=by_code[code], order=order, **attribute)
        for code in sorted(touched)
        for order, attribute in enumerate(specs[code].attributes, start=1)
    ]
    missing = [row for row in rows if (row.category_id, row.code) not in have]
    CategoryAttribute.objects.bulk_create(missing)
    if reset:
        present = [row for row in rows if (row.category_id, row.code) in have]
        for row in present:
            row.pk = have[(row.category_id, row.code)]
        CategoryAttribute.objects.bulk_update(
            present, ["datatype", "description", "datatype_description", "required", "values", "order"]
        )
    return len(missing)


def _units(city: str, by_code: dict[str, int], *, reset: bool) -> tuple[int, int]:
    """Create the missing default units of every node in ``city``'s subtree and link their categories."""
    nodes = Area.objects.within(city).filter(level__in={k.level for k in UNIT_KINDS.values()})
    wanted: dict[tuple[str, str], str] = {}  # (area code, unit name) → kind
    for area in nodes.only("code", "name", "level").iterator(chunk_size=2000):
        for kind, spec in UNIT_KINDS.items():
            if spec.level == area.level:
                wanted[(area.code, unit_name(kind, area))] = kind
    existing = set(Unit.objects.within(city).values_list("area_id", "name"))
    missing = [key for key in wanted if key not in existing]
    Unit.objects.bulk_create([Unit(area_id=code, name=name) for code, name in missing], batch_size=1000)
    linked = set(wanted) if reset else set(missing)
    kinds_of: dict[str, list[int]] = {}
    for spec in CATALOGUE:
        for kind in spec.units:
            kinds_of.setdefault(kind, []).append(by_code[spec.code])
    Link = Unit.categories.through
    links = [
        Link(unit_id=pk, category_id=category_id)
        for pk, code, name in _unit_rows(city, linked)
        for category_id in kinds_of.get(wanted[(code, name)], ())
    ]
    before = Link.objects.filter(unit__in=Unit.objects.within(city)).count()
    Link.objects.bulk_create(links, batch_size=2000, ignore_conflicts=True)
    after = Link.objects.filter(unit__in=Unit.objects.within(city)).count()
    return len(missing), after - before


def _unit_rows(city: str, keys: Iterable[tuple[str, str]]) -> list[tuple[int, str, str]]:
    keys = set(keys)
    if not keys:
        return []
    names = {name for _code, name in keys}
    rows = Unit.objects.within(city).filter(name__in=names).values_list("pk", "area_id", "name")
    return [row for row in rows if (row[1], row[2]) in keys]
