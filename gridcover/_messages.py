"""Every user-facing string of the command line, in Chinese first, English on request.

One catalogue: ``MESSAGES[key] = (中文, English)``. :func:`msg` picks the language from
the environment variable ``GRIDCOVER_LANG`` (``zh``, the default, or ``en``), read when
called, so help texts (built when the CLI module is imported) and run-time messages
follow the same switch. Placeholders use :meth:`str.format` names and are the same in
both languages.

:func:`reason_cn` translates the stable English reject reasons of the ledger and the
geocoder into Chinese for ``rejects.csv`` and the 未入库 sheet, part by part (reasons of
one row are ``; ``-joined); a part it does not know is kept as it is, never dropped.
"""

from __future__ import annotations

import os
import re
from typing import Final

__all__ = ["MESSAGES", "lang", "msg", "reason_cn"]

MESSAGES: Final[dict[str, tuple[str, str]]] = {
    # --- application and options -------------------------------------------------------------
    "app.help": ("非公企业党建“两个覆盖”网格化规划：网格、联合党支部、地图与报表。设置 GRIDCOVER_LANG=en 显示英文。",
                 "Plan party-building coverage (两个覆盖) of non-public enterprises: grids, joint branches, "
                 "maps. Set GRIDCOVER_LANG=zh for Chinese."),
    "opt.quiet": ("只显示错误。", "Print errors only."),
    "opt.verbose": ("显示每一步的日志（内部错误时显示调用栈）。", "Log each step (and tracebacks of internal errors)."),
    "opt.out": ("输出文件夹。", "Output folder."),
    "opt.townships": ("乡镇（街道）边界文件（GeoJSON、GeoPackage、Shapefile）。",
                      "Township/street boundaries (GeoJSON, GeoPackage, Shapefile)."),
    "opt.townships_required": ("乡镇（街道）边界文件（必填）。", "Township/street boundaries (required)."),
    "opt.parks": ("园区边界文件。", "Park boundaries."),
    "opt.gazetteer": ("村（社区）地名表 CSV，用于只有地址的行。", "Village/community gazetteer CSV for address-only rows."),
    "opt.sheet": ("XLSX 台账的工作表（名称或从 0 起的序号）。", "Sheet of an XLSX ledger (name or 0-based index)."),
    "opt.name_field": ("边界文件的名称字段（未自动识别时）。", "Name field of the boundary files, when not detected."),
    "opt.encoding": ("Shapefile 边界的属性编码（如 GBK）。", "Attribute encoding of Shapefile boundaries (e.g. GBK)."),
    "opt.config": ("配置文件（TOML）。", "Config TOML."),
    "opt.online": ("启用配置中的在线地理编码（需联网）。", "Opt in to the online geocoder of the config."),
    "opt.ledger": ("台账文件：CSV（UTF-8/GBK）、XLSX、GeoJSON 或 GeoPackage。",
                   "Ledger file: CSV (UTF-8/GBK), XLSX, GeoJSON or GeoPackage."),
    "opt.service_centres": ("党群服务中心（含经纬度的 CSV）。", "Party-mass service centres (CSV with lon/lat)."),
    "opt.instructors": ("党建工作指导员名册（CSV/XLSX）。", "Instructor roster (CSV/XLSX)."),
    "opt.maps": ("生成 map.html 和各单位地图。", "Write map.html and one map per unit."),
    "opt.offline": ("地图内嵌全部脚本与样式（无需联网；不请求在线底图）。",
                    "Inline every map asset (no network needed; no online base map)."),
    "opt.basemap": ("在线底图：osm、amap（高德）、tianditu（天地图）或 none。", "osm, amap, tianditu or none."),
    "opt.tiles": ("内网瓦片服务地址模板（如 http://10.0.0.1/tiles/{z}/{x}/{y}.png，政务外网、天地图部署）。",
                  "Tile URL template of an intranet tile server (e.g. http://10.0.0.1/tiles/{z}/{x}/{y}.png)."),
    "opt.attribution": ("内网底图的版权说明（与 --tiles 一起使用）。", "Attribution of the --tiles base map."),
    "opt.area": ("地区名称，用于地图标题和报表。", "The area's name for map titles and reports."),
    "opt.shapefiles": ("另外输出 GBK 编码的 Shapefile（旧版 GIS 软件）。",
                       "Also write GBK Shapefiles for older GIS software."),
    "opt.workers": ("并行划分单位的进程数。", "Processes partitioning the units in parallel."),
    "opt.previous": ("在上一期规划文件夹的基础上重新规划（季度更新）。",
                     "Re-plan from this earlier plan folder (quarterly update)."),
    "opt.lock": ("含 grid_id 或 branch_id 列的 CSV：这些网格、联合党支部原样保留（需 --previous）。",
                 "CSV with grid_id or branch_id: kept exactly (with --previous)."),
    "opt.grids": ("规划人员编辑过的网格（QGIS 导出的 GeoJSON），作为本次的网格。",
                  "Planner-edited grids (GeoJSON from QGIS) to use as the grids."),
    "opt.levers": ("基本规则之外的组建方式：all，或 L1,L2,L3,L4,L5 中的几项（见规则文档）。",
                   "Ways to organise beyond the base rules: all, or some of L1,L2,L3,L4,L5 (RULES.md)."),
    "opt.centres": ("提出新建党群服务中心选址：full（每个入网格企业都在服务半径内）或数量 K。",
                    "Propose new service-centre sites: full (every gridded enterprise in a catchment) or a number K."),
    "err.lock_needs_previous": ("--lock 需要同时给出 --previous", "--lock needs --previous"),
    "opt.engine": ("划分各单位的引擎：local（本机，--workers 个进程）或 dask（dask.distributed，默认本机 LocalCluster，"
                   "--workers 个工作进程，至少 2 个）；结果相同。",
                   "Engine partitioning the units: local (this machine, --workers processes) or dask "
                   "(dask.distributed, a LocalCluster of --workers processes, at least 2, by default); same plan."),
    "opt.scheduler": ("已运行的 Dask 集群调度器地址（如 tcp://10.0.0.5:8786，需 --engine dask；各节点须已安装 gridcover）。",
                      "Address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786; with --engine dask; "
                      "its workers need gridcover installed)."),
    "err.engine": ("--engine {value!r} 不是 {choices} 之一", "--engine {value!r} is not one of {choices}"),
    "err.dask_missing": ("--engine dask 需要安装 dask：pip install 'gridcover[dask]'",
                         "--engine dask needs dask installed: pip install 'gridcover[dask]'"),
    "err.scheduler": ("无法连接 Dask 调度器 {address}（{timeout} 秒内无响应）：请检查地址和集群是否已启动",
                      "cannot reach the Dask scheduler {address} (no answer within {timeout} s): "
                      "check the address and that the cluster is running"),
    "err.scheduler_needs_dask": ("--scheduler 需要同时给出 --engine dask", "--scheduler needs --engine dask"),
    "opt.per_unit_books": ("另外为每个园区、乡镇（街道）输出一本工作簿（一园一策）：books/<单位>.xlsx。",
                           "Also write one workbook per park and township (一园一策): books/<unit>.xlsx."),
    "opt.per_unit": ("同时生成各单位地图。", "Also one map per unit."),
    "opt.demo_out": ("输出文件夹（默认 maps）。", "Output folder."),
    "opt.old_ledger": ("上季度台账。", "Last quarter's ledger."),
    "opt.new_ledger": ("本季度台账。", "This quarter's ledger."),
    "opt.config_out": ("把 TOML 写入此文件，而不是打印。", "Write the TOML here instead of printing it."),
    "opt.config_from": ("以此配置为起点（而不是默认值）。", "Start from this config instead of the defaults."),
    "opt.plan_dir": ("由 `gridcover plan` 或 `demo` 生成的文件夹。", "A folder written by `gridcover plan` or `demo`."),
    # --- commands ----------------------------------------------------------------------------------
    "cmd.validate": ("读入台账、定位并划入辖区；打印条数和未入库原因。\n\n无未入库行退出码 0，有则 1，输入无法读取时 2。",
                     "Ingest, geocode and assign jurisdictions; print counts and reasons.\n\n"
                     "Exit 0 when no row is rejected, 1 when some are, 2 when an input cannot be read."),
    "cmd.plan": ("对您的数据运行全流程：网格、联合党支部、网格长、覆盖率、报表、地图。",
                 "The whole pipeline on your data: grids, joint branches, leaders, coverage, reports, maps."),
    "cmd.demo": ("在自带的虚构示例县上运行全流程（离线），写入 maps/。",
                 "Run everything on the bundled synthetic sample county (offline), writing to maps/."),
    "cmd.diff": ("季度更新：新增、注销、迁移的企业及人数、组织的变化。",
                 "Quarterly update: enterprises added, closed, moved, and changed counts/organisation."),
    "cmd.config": ("打印（或写出）含全部规则阈值和参数说明的 TOML 配置。",
                   "Print (or write) a TOML config with every rule threshold and parameter, documented."),
    "cmd.map": ("用其他选项重新生成已保存规划的地图。", "Re-render the maps of a saved plan with other options."),
    # --- run-time messages -------------------------------------------------------------------------
    "err.prefix": ("gridcover：错误：{msg}", "gridcover: error: {msg}"),
    "warn.prefix": ("gridcover：警告：{msg}", "gridcover: warning: {msg}"),
    "err.interrupted": ("已中断", "interrupted"),
    "err.internal": ("内部错误：{kind}：{msg}", "internal error: {kind}: {msg}"),
    "err.basemap": ("--basemap {value!r} 不是 {choices} 之一", "--basemap {value!r} is not one of {choices}"),
    "run.rows": ("读入 {read} 行   入库 {accepted} 行   未入库 {rejected} 行",
                 "rows read: {read}   accepted: {accepted}   rejected: {rejected}"),
    "run.located": ("定位：{counts}", "located: {counts}"),
    "run.conflicts": ("台账所属乡镇（园区）与空间位置不一致：{n}", "declared township/park conflicts: {n}"),
    "run.rejected_rows": ("未入库行：", "rejected rows:"),
    "run.reject_row": ("  第 {row} 行：{uscc}：{reason}", "  row {row}: {uscc}: {reason}"),
    "run.no_code": ("（无代码）", "(no code)"),
    "run.more_rejects": ("  …… 另有 {n} 行（用 --out 输出 rejects.csv 查看）", "  … and {n} more (see rejects.csv with --out)"),
    "run.wrote": ("已写出 {path}", "wrote {path}"),
    "run.wrote_files": ("已向 {out} 写出 {n} 个文件", "wrote {n} files to {out}"),
    "run.wrote_maps": ("已向 {out} 写出 {n} 张地图", "wrote {n} maps to {out}"),
    "run.grids": ("网格 {grids} 个   联合党支部 {branches} 个", "grids: {grids}   joint branches: {branches}"),
    "run.coverage": ("党组织覆盖率 {org_b} → {org_a}   党的工作覆盖率 {work_b} → {work_a}   仅属地兜底（M5）{backstop}",
                     "organisational coverage: {org_b} → {org_a}   work coverage: {work_b} → {work_a}   "
                     "backstop only (M5): {backstop}"),
    "run.note": ("注意：{line}", "注意：{line}"),
    "run.sample": ("示例县：{path}", "sample county: {path}"),
    "run.diff_count": ("{label}：{n}", "{label}: {n}"),
    "diff.added": ("新增", "added"),
    "diff.closed": ("注销", "closed"),
    "diff.moved": ("迁移", "moved"),
    "diff.changed": ("变化", "changed"),
    "stage.starting": ("开始", "starting"),
    "stage.writing": ("写出结果", "writing outputs"),
}


def lang() -> str:
    """The language of the messages: ``en`` when ``GRIDCOVER_LANG`` starts with ``en``, else ``zh``."""
    return "en" if os.environ.get("GRIDCOVER_LANG", "zh").strip().lower().startswith("en") else "zh"


def msg(key: str, **values: object) -> str:
    """The message ``key`` in the current language, formatted with ``values``.

    Examples
    --------
    >>> import os
    >>> os.environ.pop("GRIDCOVER_LANG", None) and None
    >>> msg("run.wrote", path="plan.xlsx")
    '已写出 plan.xlsx'
    >>> os.environ["GRIDCOVER_LANG"] = "en"
    >>> msg("run.wrote", path="plan.xlsx")
    'wrote plan.xlsx'
    >>> del os.environ["GRIDCOVER_LANG"]
    """
    zh, en = MESSAGES[key]
    text = en if lang() == "en" else zh
    return text.format(**values) if values else text


# --- reject reasons ---------------------------------------------------------------------------------
_FIELDS: Final = {"uscc": "统一社会信用代码", "name": "企业名称", "staff": "职工人数", "members": "正式党员数",
                  "probationary": "预备党员数", "lon": "经度", "lat": "纬度", "org_type": "党组织组建方式",
                  "crs": "坐标系", "address": "地址"}
_USCC_PROBLEMS: Final = (
    (re.compile(r"^has (\d+) characters, expected 18$"), "为 {0} 位，应为 18 位"),
    (re.compile(r"^contains characters not allowed in a USCC: (.*)$"), "含有不允许的字符：{0}"),
    (re.compile(r"^characters 3-8 must be the 6-digit division code, found (.*)$"),
     "第 3–8 位应为 6 位行政区划代码，实为 {0}"),
    (re.compile(r"^check character is (.), expected (.)$"), "校验位为 {0}，应为 {1}（GB 32100-2015）"),
)


def _field(name: str) -> str:
    return _FIELDS.get(name, name)


def _uscc_problem(text: str) -> str:
    for pattern, template in _USCC_PROBLEMS:
        m = pattern.match(text)
        if m:
            return template.format(*m.groups())
    return text


_REASONS: Final = (
    (re.compile(r"^uscc is blank$"), lambda m: "统一社会信用代码为空"),
    (re.compile(r"^uscc '(.*)' duplicate of row (\d+)$"), lambda m: f"统一社会信用代码 {m[1]} 与第 {m[2]} 行重复"),
    (re.compile(r"^uscc '(.*?)' (.*)$"), lambda m: f"统一社会信用代码 {m[1]} {_uscc_problem(m[2])}"),
    (re.compile(r"^name is blank$"), lambda m: "企业名称为空"),
    (re.compile(r"^(\w+) is blank$"), lambda m: f"{_field(m[1])}为空"),
    (re.compile(r"^(\w+) '(.*)' is not a number$"), lambda m: f"{_field(m[1])}“{m[2]}”不是数字"),
    (re.compile(r"^(\w+) '(.*)' is not a whole number$"), lambda m: f"{_field(m[1])}“{m[2]}”不是整数"),
    (re.compile(r"^(\w+) '(.*)' is negative$"), lambda m: f"{_field(m[1])}“{m[2]}”为负数"),
    (re.compile(r"^formal members (\d+) exceed staff (\d+)$"), lambda m: f"正式党员数 {m[1]} 超过职工人数 {m[2]}"),
    (re.compile(r"^org_type '(.*)' is unknown"), lambda m: f"党组织组建方式“{m[1]}”无法识别（应为单独建、联合建、挂靠建或未建）"),
    (re.compile(r"^crs '(.*)' is unknown"), lambda m: f"坐标系“{m[1]}”无法识别（应为 wgs84、gcj02 或 bd09）"),
    (re.compile(r"^neither address nor coordinates"), lambda m: "既无地址也无经纬度"),
    (re.compile(r"^only one of lon/lat given"), lambda m: "经度、纬度只填了一个"),
    (re.compile(r"^coordinates lon '(.*)', lat '(.*)' lie outside China$"),
     lambda m: f"坐标（经度 {m[1]}，纬度 {m[2]}）在中国境外"),
    (re.compile(r"^lon '(.*)', lat '(.*)' look swapped"),
     lambda m: f"经度 {m[1]}、纬度 {m[2]} 疑似填反（对调后在中国境内）；请对调或设置 fix_swapped_coordinates"),
    (re.compile(r"^point \((.*), (.*)\) lies outside every township and park boundary$"),
     lambda m: f"点位（{m[1]}，{m[2]}）不在任何乡镇（街道）或园区边界内"),
    (re.compile(r"unbalanced (double )?quote", re.IGNORECASE), lambda m: "引号不成对，本行无法可靠读取"),
    (re.compile(r"carriage return", re.IGNORECASE), lambda m: "单元格内有回车符，本行被拆断"),
)


def reason_cn(reason: str) -> str:
    """The Chinese text of a reject reason (each ``; ``-joined part translated).

    Examples
    --------
    >>> reason_cn("formal members 6 exceed staff 4")
    '正式党员数 6 超过职工人数 4'
    >>> reason_cn("uscc '91350799XQK3C3GJ73' check character is 3, expected U; staff '若干' is not a number")
    '统一社会信用代码 91350799XQK3C3GJ73 校验位为 3，应为 U（GB 32100-2015）；职工人数“若干”不是数字'
    >>> reason_cn("something new")
    'something new'
    """
    text = "" if reason is None else str(reason)
    parts = []
    for part in text.split("; "):
        for pattern, render in _REASONS:
            m = pattern.search(part)
            if m:
                parts.append(render(m))
                break
        else:
            parts.append(part)
    return "；".join(parts)
