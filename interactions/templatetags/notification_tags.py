from django import template

from interactions.selectors import cached_unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context):
    """The signed-in user's unread count from the cache, or None: pages never query for the bell;
    on a miss the bell fetches its count after the page loads (one indexed COUNT, then cached)."""
    if context.get("bell_count") is not None:
        return context["bell_count"]
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return cached_unread_count(user=user)
