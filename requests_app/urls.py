urlpatterns: list[object] = []
app_name = "requests_app"
