urlpatterns: list[object] = []
app_name = "api"
