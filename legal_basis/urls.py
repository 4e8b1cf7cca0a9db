app_name = "legal_basis"
urlpatterns: list[object] = []
