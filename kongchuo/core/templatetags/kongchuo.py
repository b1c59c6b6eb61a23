from django import template

from kongchuo.core.masking import mask_id_number, mask_student_number

register = template.Library()


@register.filter
def mask_id(value):
    return mask_id_number(value)


@register.filter
def mask_nsn(value):
    return mask_student_number(value)
