# stub: rack 2.2.3 ruby lib
Gem::Specification.new do |s|
  s.name = "rack".freeze
  s.version = "2.2.3"
  s.licenses = ["MIT".freeze]
end
