from django import template

from kongchuo.core.masking import mask_id_number, mask_in_text, mask_student_number

register = template.Library()


@register.filter
def mask_id(value):
    return mask_id_number(value)


@register.filter
def mask_nsn(value):
    return mask_student_number(value)


@register.filter
def mask_text(value):
    """Free text (a finding's evidence, a reason) with every ID-number-shaped run masked."""
    return mask_in_text(str(value)) if value else ""


@register.filter
def get_item(mapping, key):
    """{{ mapping|get_item:key }} for dicts built by a view (no logic in templates beyond a lookup)."""
    return mapping.get(key) if mapping else None
