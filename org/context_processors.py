from .navigation import nav_for


def shell(request):
    """What the base layout needs: the navigation the user may use and who is signed in."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    return {"nav_items": nav_for(user)}
